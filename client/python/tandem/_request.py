"""Request building: prompts and keyword options → tandem.v1.GenerateRequest.

Options left out are left unset in the request, so the server's defaults (or a preset) apply.
Ranges are checked by the server (InvalidArgumentError naming the field); this module only rejects
what cannot be expressed in the request: unknown option names, unknown mode names, wrong prompt
types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, TypeVar, Union

from tandem._gen.proto.tandem.v1 import common_pb2, generation_service_pb2 as gs_pb2


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user", "assistant", or another role the chat template knows.
    content: str


# A text prompt (tokenized by the server), or token ids used as they are.
Prompt = Union[str, Sequence[int]]
# A chat message as a ChatMessage or a {"role": ..., "content": ...} mapping.
Message = Union[ChatMessage, Mapping[str, str]]


class GenerateOptions(TypedDict, total=False):
    """The keyword options of generate() and generate_stream(); each maps to one request field."""

    # Sampling (SamplingParams). temperature 0 = greedy.
    preset: Literal["creative", "precise", "balanced", "deterministic"]
    temperature: float
    top_k: int
    top_p: float
    min_p: float
    typical_p: float
    repetition_penalty: float
    presence_penalty: float
    frequency_penalty: float
    no_repeat_ngram_size: int
    banned_token_ids: Sequence[int]
    logit_bias: Mapping[int, float]  # token id → additive bias in [-100, 100].
    seed: int
    # Stopping (StoppingCriteria). max_time in seconds.
    max_new_tokens: int
    min_new_tokens: int
    max_length: int
    stop: Union[str, Sequence[str]]
    eos_token_ids: Sequence[int]
    ignore_eos: bool
    max_time: float
    # Sequences per prompt, beam search.
    n: int
    num_beams: int
    length_penalty: float
    # Speculation: "draft" (draft model), "self" (early exit), "ngram" (prompt lookup), "off".
    speculation: Literal["draft", "self", "ngram", "off"]
    draft_length: Union[int, Literal["adaptive"]]  # Fixed gamma, or the server's adaptive policy.
    exit_layer: int  # Self-speculation exit layer.
    pipelining: bool  # Draft model: draft the next round while verifying (server default: on).
    # Draft model token trees: (alternatives, depth), drafted every round; (0, 0) = chains.
    # Unset: the server's adaptive default (a tree only in rounds where it pays).
    tree: Tuple[int, int]
    # Output: per-token logprobs, top alternatives (implies logprobs), speculation statistics.
    logprobs: bool
    top_logprobs: int
    # The raw and processed next-token distributions (this many top tokens each) on every token.
    distribution_top_n: int
    # Token-level relevance (docs/relevance.md): True, or a dict with any of "method" ("ig" |
    # "ixg"), "baseline" ("mean" | "zero"), "steps", "top_n", "dense". Results: Token.relevance
    # (unary) or SequenceEnd.relevance (streams).
    relevance: Union[bool, Mapping[str, Any]]
    speculation_stats: bool  # Default True.
    # Chat prompts: end with the template's assistant header. Default True.
    add_generation_prompt: bool


_OPTION_NAMES = frozenset(GenerateOptions.__annotations__)

_PRESETS = {
    "creative": common_pb2.SAMPLING_PRESET_CREATIVE,
    "precise": common_pb2.SAMPLING_PRESET_PRECISE,
    "balanced": common_pb2.SAMPLING_PRESET_BALANCED,
    "deterministic": common_pb2.SAMPLING_PRESET_DETERMINISTIC,
}
_MODES = {
    "draft": common_pb2.SPECULATION_MODE_DRAFT_MODEL,
    "self": common_pb2.SPECULATION_MODE_SELF_SPECULATIVE,
    "ngram": common_pb2.SPECULATION_MODE_NGRAM,
    "off": common_pb2.SPECULATION_MODE_OFF,
}
# Options copied as they are into a scalar field of a config sub-message.
_SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
                    "presence_penalty", "frequency_penalty", "no_repeat_ngram_size", "seed")
_STOPPING_FIELDS = ("max_new_tokens", "min_new_tokens", "max_length", "ignore_eos")


_Enum = TypeVar("_Enum")


def _named(table: Mapping[str, _Enum], option: str, value: str) -> _Enum:
    if value not in table:
        raise ValueError(f"unknown {option} {value!r}; expected one of {', '.join(table)}")
    return table[value]


def _set_prompt(out: gs_pb2.Prompt, prompt: Prompt) -> None:
    if isinstance(prompt, str):
        out.text = prompt
    elif isinstance(prompt, (bytes, bytearray)) or not all(isinstance(i, int) for i in prompt):
        raise TypeError("a prompt is a str or a sequence of token ids (int)")
    else:
        out.token_ids.ids.extend(prompt)


def _set_chat(out: gs_pb2.Prompt, messages: Sequence[Message], options: Mapping[str, Any]) -> None:
    chat = out.chat
    for m in messages:
        if isinstance(m, ChatMessage):
            chat.messages.add(role=m.role, content=m.content)
        else:
            chat.messages.add(role=m["role"], content=m["content"])
    if "add_generation_prompt" in options:
        chat.add_generation_prompt = options["add_generation_prompt"]


def _set_prompts(request: gs_pb2.GenerateRequest, prompt: Optional[Prompt],
                 prompts: Optional[Sequence[Prompt]], messages: Optional[Sequence[Message]],
                 options: Mapping[str, Any]) -> None:
    given = [x is not None for x in (prompt, prompts, messages)]
    if sum(given) != 1:
        raise TypeError("give exactly one of prompt, prompts= or messages=")
    if prompt is not None:
        if not isinstance(prompt, str) and any(isinstance(p, str) for p in prompt):
            raise TypeError("several text prompts go in prompts=[...]")
        _set_prompt(request.prompts.add(), prompt)
    elif prompts is not None:
        if isinstance(prompts, str):
            raise TypeError("prompts= is a list of prompts; pass one text as prompt")
        for p in prompts:
            _set_prompt(request.prompts.add(), p)
    elif messages is not None:
        _set_chat(request.prompts.add(), messages, options)


def _set_sampling(s: common_pb2.SamplingParams, o: Mapping[str, Any]) -> None:
    if "preset" in o:
        s.preset = _named(_PRESETS, "preset", o["preset"])
    for name in _SAMPLING_FIELDS:
        if name in o:
            setattr(s, name, o[name])
    s.banned_token_ids.extend(o.get("banned_token_ids", ()))
    for token_id, bias in o.get("logit_bias", {}).items():
        s.logit_bias.add(token_id=token_id, bias=bias)


def _set_stopping(s: common_pb2.StoppingCriteria, o: Mapping[str, Any]) -> None:
    for name in _STOPPING_FIELDS:
        if name in o:
            setattr(s, name, o[name])
    stop = o.get("stop", ())
    s.stop_strings.extend([stop] if isinstance(stop, str) else stop)
    s.eos_token_ids.extend(o.get("eos_token_ids", ()))
    if "max_time" in o:
        s.max_time.FromNanoseconds(round(o["max_time"] * 1e9))


_RELEVANCE_METHODS = {
    "ig": common_pb2.RELEVANCE_METHOD_INTEGRATED_GRADIENTS,
    "ixg": common_pb2.RELEVANCE_METHOD_INPUT_X_GRADIENT,
}
_RELEVANCE_BASELINES = {
    "mean": common_pb2.RELEVANCE_BASELINE_MEAN_EMBEDDING,
    "zero": common_pb2.RELEVANCE_BASELINE_ZERO,
}


def _set_relevance(r: common_pb2.RelevanceOptions, value: Union[bool, Mapping[str, Any]]) -> None:
    if value is False or value is None:
        return
    r.enabled = True
    if value is True:
        return
    unknown = set(value) - {"method", "baseline", "steps", "top_n", "dense"}
    if unknown:
        raise ValueError(f"unknown relevance options {sorted(unknown)}")
    if "method" in value:
        if value["method"] not in _RELEVANCE_METHODS:
            raise ValueError(f"relevance method must be one of {sorted(_RELEVANCE_METHODS)}, "
                             f"got {value['method']!r}")
        r.method = _RELEVANCE_METHODS[value["method"]]
    if "baseline" in value:
        if value["baseline"] not in _RELEVANCE_BASELINES:
            raise ValueError(f"relevance baseline must be one of {sorted(_RELEVANCE_BASELINES)}, "
                             f"got {value['baseline']!r}")
        r.baseline = _RELEVANCE_BASELINES[value["baseline"]]
    if "steps" in value:
        r.steps = value["steps"]
    if "top_n" in value:
        r.top_n = value["top_n"]
    if "dense" in value:
        r.dense = bool(value["dense"])


def _set_speculation(s: common_pb2.SpeculationConfig, o: Mapping[str, Any]) -> None:
    if "speculation" in o:
        s.mode = _named(_MODES, "speculation", o["speculation"])
    draft_length = o.get("draft_length")
    if draft_length == "adaptive":
        s.adaptive.SetInParent()
    elif isinstance(draft_length, int) and not isinstance(draft_length, bool):
        s.fixed_draft_length = draft_length
    elif draft_length is not None:
        raise ValueError(f"draft_length is an int or 'adaptive', not {draft_length!r}")
    if "exit_layer" in o:
        s.self_speculative.exit_layer = o["exit_layer"]
    if "pipelining" in o:
        s.disable_pipelining = not o["pipelining"]
    if "tree" in o:
        tree = o["tree"]
        if (not isinstance(tree, (tuple, list)) or len(tree) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in tree)):
            raise ValueError(f"tree is (alternatives, depth), two ints >= 0, not {tree!r}")
        s.tree.alternatives, s.tree.depth = tree


def build_request(prompt: Optional[Prompt], prompts: Optional[Sequence[Prompt]],
                  messages: Optional[Sequence[Message]], request_id: str,
                  options: Mapping[str, Any]) -> gs_pb2.GenerateRequest:
    """The request of one generate() call; TypeError / ValueError for what it cannot say."""
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(unknown)}")
    request = gs_pb2.GenerateRequest(request_id=request_id)
    _set_prompts(request, prompt, prompts, messages, options)
    config = request.config
    config.num_return_sequences = options.get("n", 0)
    _set_sampling(config.sampling, options)
    _set_stopping(config.stopping, options)
    if "num_beams" in options:
        config.beam_search.num_beams = options["num_beams"]
    if "length_penalty" in options:
        config.beam_search.length_penalty = options["length_penalty"]
    _set_speculation(config.speculation, options)
    top = options.get("top_logprobs", 0)
    config.output.logprobs = bool(options.get("logprobs", False) or top)
    config.output.top_logprobs = top
    config.output.distribution_top_n = options.get("distribution_top_n", 0)
    _set_relevance(config.output.relevance, options.get("relevance", False))
    config.output.include_speculation_stats = options.get("speculation_stats", True)
    return request


def stream_request(request: gs_pb2.GenerateRequest) -> gs_pb2.GenerateStreamRequest:
    return gs_pb2.GenerateStreamRequest(
        request_id=request.request_id, prompts=request.prompts, config=request.config)
