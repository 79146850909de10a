// The jinja2 subset construct by construct: small templates, each rendered
// by tandem and by Python's jinja2 (HF's environment) over a few
// conversations, byte for byte. Includes the corners chat templates hit:
// whitespace control, undefined, Python's str() of values, loop scoping.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tokenizer/jinja2_oracle.h"
#include "tokenizer/chat_template.h"

namespace tandem::tokenizer {
namespace {

std::vector<oracle::RenderCase> SmallConversations() {
  return {
      {{{"system", "Sys"}, {"user", "Hi \xC3\xA9t\xC3\xA9"}, {"assistant", "Yo"}, {"user", "  Bye\n"}},
       true, {{"flag", true}}, {{"name", "Ann"}}},
      {{{"user", "only {{ one }}"}}, false, {{"flag", false}}, {}},
      {{}, false, {}, {}},
  };
}

struct Snippet {
  const char* name;
  const char* source;
};

const Snippet kSnippets[] = {
    {"whitespace_defaults", "A\n  {% if true %}\n    x\n  {% endif %}\nB\n{# c #}\nC  {{ 1 }}  \n"},
    {"whitespace_minus", "a  \n {%- if true -%}  \n b \n {%- endif %}  c {{- ' d ' -}}  e\n\n"},
    {"whitespace_plus", "a\n  {%+ if true +%}\nb\n  {%+ endif %}\n{#+ c +#}\nd"},
    {"lstrip_not_for_variables", "x\n    {{ 'v' }}\n    {% set a = 1 %}\n\ty"},
    {"trailing_newline_dropped", "end\n"},
    {"crlf_newlines", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\rd"},
    {"raw_block", "{% raw %}{{ not a var }} {% if %}{% endraw %}|{%- raw -%}  x  {%- endraw -%}  |"},
    {"comment_forms", "a {#- trimmed -#}  b {# kept #}\nc\n{#- x #}\n d"},
    {"literals", "{{ 'a' \"b\" }}|{{ 1 }}|{{ -2 }}|{{ 1.5 }}|{{ 1e3 }}|{{ 2.0 }}|{{ 1e-7 }}|{{ 1e16 }}|"
                 "{{ 0.1 + 0.2 }}|{{ none }}|{{ True }}|{{ false }}|{{ [] }}|{{ {} }}"},
    {"reprs", "{{ [1, 'a', \"it's\", none, true, 2.5, ('t',), (1, 2), {'k': [\"q\\\"\"]}] }}|"
              "{{ ['\\n\\t\\\\', '\\x01', '\\u00a0', '\\u00e9', '\\U0001F999'] }}|{{ namespace(a=1) }}"},
    {"string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\101\\q' }}"},
    {"arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} "
                   "{{ 2 ** -1 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} "
                   "{{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ true + 1 }} {{ 3 - 1.5 }}"},
    {"concat_and_compare", "{{ 1 ~ 'a' ~ none ~ x ~ [1] }} {{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} "
                           "{{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} "
                           "{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ x == y }}"},
    {"logic", "{{ 0 or 'b' }} {{ 'a' and 0 }} {{ none or [] or 'z' }} {{ not 0 }} {{ not x }} "
              "{{ 'y' if 0 }}|{{ 'y' if 1 else 'n' }} {{ 1 if 0 else 2 if 0 else 3 }}"},
    {"undefined", "{% set m = {'a': 1} %}[{{ x }}][{{ m.missing }}][{{ x | default('d') }}][{{ '' | default('e', true) }}]"
                  "[{{ x | length }}][{{ x is defined }}][{{ x is undefined }}][{{ x | trim }}]"
                  "[{% for i in x %}{{ i }}{% else %}empty{% endfor %}][{{ messages[99] }}]"
                  "[{{ 'abc'[10] }}][{{ x is iterable }}][{{ x | list }}]"},
    {"loop_variables", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/"
                       "{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/"
                       "{{ loop.previtem.role }}/{{ loop.nextitem.role }};{% endfor %}"},
    {"loop_filter_else_break", "{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role }}"
                               "{% if loop.index == 2 %}{% break %}{% endif %}{% endfor %}|"
                               "{% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{{ i }}"
                               "{% endfor %}|{% for i in [] %}x{% else %}none{% endfor %}|"
                               "{% for a, b in [(1, 2), [3, 4], 'xy'] %}{{ a }}{{ b }}{% endfor %}"},
    {"scoping", "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}|"
                "{% if true %}{% set y = 5 %}{% endif %}{{ y }}|"
                "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                "{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }}{{ ns.s }}|"
                "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set blk %}in {{ a }}{% endset %}{{ blk }}"},
    {"subscripts_slices", "{{ messages[1:] | length }} {{ messages[::-1] | map(attribute='role') | list }} "
                          "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ [1,2,3,4][::2] }} "
                          "{{ (1,2,3)[1:] }} {{ 'h\xC3\xA9llo'[1] }} {{ messages[-1]['content'] }} "
                          "{{ messages[0].role if messages else '' }} {{ [1,2,3].1 }} {{ [1,2][x:] }}"},
    {"string_filters", "{{ '  a B  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello wORLD-foo(bar' | title }}|"
                       "{{ 'hELLO \xC3\x9F' | capitalize }}|{{ 'stra\xC3\x9F\xC3\xA9' | upper }}|"
                       "{{ '\xC3\x89T\xC3\x89' | lower }}|{{ 'aaa' | replace('a', 'b', 2) }}|"
                       "{{ 5 | string }}{{ none | string }}|{{ 'abc' | length }}|{{ '\xF0\x9F\xA6\x99x' | length }}|"
                       "{{ 'ab' | list }}|{{ 'ab' | first }}{{ 'ab' | last }}|{{ 'ab' | reverse }}"},
    {"number_filters", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} "
                       "{{ '2.5' | float }} {{ 3 | float }} {{ -3 | abs }} {{ ' 12 ' | int }} {{ true | int }}"},
    {"sequence_filters", "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A'] | sort(case_sensitive=true) }} "
                         "{{ [1, 2] | sort(reverse=true) }} {{ [1, 2, 1] | unique | list }} {{ [1, 2] | join('-') }} "
                         "{{ [1, none] | join }} {{ [1, 2] | first }} {{ [1, 2] | last }} {{ [] | first }} "
                         "{{ {'a': 1, 'b': 2} | list }} {{ {'a': 1} | items | list }} {{ [1, 2] | reverse | list }} "
                         "{{ messages | map(attribute='role') | join(',') }} {{ ['a', 'B'] | map('upper') | list }} "
                         "{{ [0, 1, 2] | select('odd') | list }} {{ [0, 1, 2] | reject | list }} "
                         "{{ [0, 1, '', 'x'] | select | list }} {{ messages | selectattr('role', 'equalto', 'user') | list | length }} "
                         "{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='content') | list }} "
                         "{{ [{'a': {'b': 1}}] | map(attribute='a.b') | list }} {{ [{'a': 1}, {}] | map(attribute='a', default=0) | list }} "
                         "{{ messages | length - 1 }} {{ [1, 2] | count }}"},
    {"tojson", "{{ messages | tojson }}|{{ {'b': 1, 'a': [1.5, none, true, 'x\"\\n\xC3\xA9']} | tojson }}|"
               "{{ {'b': 1, 'a': {}} | tojson(indent=2) }}|{{ {'b': 1, 'a': []} | tojson(sort_keys=true) }}|"
               "{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ '\xC3\xA9\xF0\x9F\xA6\x99' | tojson(ensure_ascii=true) }}|"
               "{{ {1: 'int key'} | tojson }}|{{ 'x' | tojson(indent='\\t') }}"},
    {"methods", "{{ '  a b  '.strip() }}|{{ 'xay'.strip('xy') }}|{{ ' a'.lstrip() }}|{{ 'a\\n\\n'.rstrip('\\n') }}|"
                "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|"
                "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|"
                "{{ 'ab'.upper() }}{{ 'AB'.lower() }}{{ 'ab cd'.title() }}{{ 'aB'.capitalize() }}|"
                "{{ '-'.join(['a', 'b']) }}|{{ 'h\xC3\xA9llo'.find('l') }}{{ 'aaa'.count('a') }}|"
                "{% set d = {'k': 'v', 'n': none} %}{{ d.get('k') }}{{ d.get('x') }}{{ d.get('x', 'dflt') }}|"
                "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.keys() | list }}{{ d.values() | list }}|"
                "{{ messages[0].content.split('</think>')[-1] if messages else '' }}"},
    {"tests", "{{ 1 is number }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}"
              "{{ 1 is iterable }}{{ none is none }}{{ true is true }}{{ 0 is false }}{{ 1 is integer }}"
              "{{ 1.0 is float }}{{ true is boolean }}{{ 4 is divisibleby 2 }}{{ 3 is even }}{{ 'a' is in 'abc' }}"
              "{{ 1 is eq 1 }}{{ 2 is gt(1) }}{{ none is sameas none }}{{ 'ab' is lower }}{{ x is not defined }}"
              "{{ messages is not string }}{{ {} is iterable }}"},
    {"globals", "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(3, 0, -1) | list }}"
                "{{ dict(a=1, b='x') }}{{ namespace(x=1).x }}{{ strftime_now('%Y-%m-%d %d %b %Y') }}"
                "{{ strftime_now is defined }}{{ raise_exception is defined }}"},
    {"variables", "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ documents }}|"
                  "{{ flag }}|{{ name }}|{{ messages }}"},
    {"generation_block", "{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}"},
    {"raise_in_branch", "{% if messages | length > 3 %}{{ raise_exception('too many: ' ~ messages | length) }}"
                        "{% endif %}ok"},
    {"runtime_errors_agree", "{% if messages %}{{ messages[0].role + 1 }}{% endif %}fine"},
    {"undefined_attribute_error", "{{ messages[0].nope.deeper if messages else 'none' }}"},
};

class SnippetTest : public ::testing::TestWithParam<Snippet> {};

TEST_P(SnippetTest, RendersLikeJinja2) {
  auto tmpl = ChatTemplate::Parse(GetParam().source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  ChatTemplateOptions options;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  oracle::ExpectSameAsJinja2(GetParam().name, GetParam().source, *tmpl, options,
                             SmallConversations());
}

INSTANTIATE_TEST_SUITE_P(Constructs, SnippetTest, ::testing::ValuesIn(kSnippets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tandem::tokenizer
