"""Renders chat templates exactly as Hugging Face transformers does.

The environment is transformers' _compile_jinja_template (utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension and an AssistantTracker-like {% generation %} tag, the
tojson filter overridden by json.dumps(ensure_ascii=False, ...), and the
raise_exception / strftime_now globals; render() gets messages, tools=None,
documents=None, add_generation_prompt and the special tokens, as
render_jinja_template passes them.

Usage: hf_chat_template_oracle.py CASES.json
CASES.json: {"template": str, "cases": [{"messages": [...], "add_generation_prompt": bool,
             "variables": {...}, "now": unix_seconds}]}
Prints JSON: {"compile_error": str} or {"results": [{"text": str} | {"error": str, "raised": bool}]}.
"""

import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    pass


class AssistantTracker(jinja2.ext.Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_render", [])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def compile_template(source, now):
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(now[0]).strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    now = [0]
    try:
        template = compile_template(request["template"], now)
    except Exception as e:  # noqa: BLE001 - any failure is the oracle's answer
        json.dump({"compile_error": f"{type(e).__name__}: {e}"}, sys.stdout)
        return
    results = []
    for case in request["cases"]:
        now[0] = case.get("now", 0)
        try:
            text = template.render(messages=case["messages"], tools=None, documents=None,
                                   add_generation_prompt=case["add_generation_prompt"],
                                   **case.get("variables", {}))
            results.append({"text": text})
        except RaisedByTemplate as e:
            results.append({"error": str(e), "raised": True})
        except Exception as e:  # noqa: BLE001
            results.append({"error": f"{type(e).__name__}: {e}", "raised": False})
    json.dump({"results": results}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
