"""Typed results: frozen dataclasses converted from tandem.v1 messages (durations in seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

from tandem._gen.proto.tandem.v1 import common_pb2, generation_service_pb2 as gs_pb2


@dataclass(frozen=True)
class TokenLogprob:
    """A candidate token with its log-probability (an alternative at one position)."""

    id: int
    logprob: float
    piece: bytes  # The token's bytes; may be an incomplete UTF-8 sequence.


@dataclass(frozen=True)
class TokenRelevance:
    """How much each earlier position contributed to one generated token (docs/relevance.md)."""

    position: int  # The token's position in prompt + generated tokens.
    top: Tuple[Tuple[int, float], ...]  # (position, score), by decreasing |score|.
    dense_scores: Tuple[float, ...]  # Every position before `position`, when asked for.
    target: float  # f(x): the token's logit.
    baseline: float  # f(baseline); 0 for input x gradient.


@dataclass(frozen=True)
class Token:
    id: int
    piece: bytes  # The token's bytes; may be an incomplete UTF-8 sequence.
    logprob: Optional[float]  # Set when the request asked for logprobs.
    top_logprobs: Tuple[TokenLogprob, ...]  # Descending; at most top_logprobs entries.
    # With distribution_top_n: the distribution before / after the processors, descending.
    raw_distribution: Tuple[TokenLogprob, ...] = ()
    processed_distribution: Tuple[TokenLogprob, ...] = ()
    relevance: Optional[TokenRelevance] = None  # With relevance, on unary results.


@dataclass(frozen=True)
class PositionAcceptance:
    position: int  # 1-based draft position.
    drafted: int
    accepted: int


@dataclass(frozen=True)
class SpeculationStats:
    mode: str  # The mode that actually ran: "off", "draft", "self" or "ngram".
    drafted_tokens: int
    accepted_tokens: int
    acceptance_rate: float
    mean_accepted_length: float  # Tokens per target pass.
    target_passes: int
    per_position_acceptance: Tuple[PositionAcceptance, ...]
    draft_time: float
    verify_time: float
    rpc_time: float
    pre_drafts: int
    pre_draft_hits: int
    draft_time_hidden: float
    # Token trees: alternatives drafted beside the chains, and rounds that took one.
    tree_alternatives: int
    tree_alternative_hits: int


@dataclass(frozen=True)
class Stats:
    prompt_tokens: int
    generated_tokens: int
    total_time: float
    time_to_first_token: float
    mean_inter_token_latency: float
    tokens_per_second: float
    speculation: Optional[SpeculationStats]  # With speculation_stats=True (the default).


@dataclass(frozen=True)
class GeneratedSequence:
    """One generated sequence of one prompt."""

    prompt_index: int
    sequence_index: int
    text: str  # Without the prompt and without a matched stop string.
    tokens: Tuple[Token, ...]
    finish_reason: str  # "eos", "stop_string", "length", "max_time" or "cancelled".
    matched_stop_string: str
    score: Optional[float]  # Beam search score, or the sum of logprobs when requested.
    seed: int  # Pass it back as seed= to reproduce this sequence.
    stats: Stats


@dataclass(frozen=True)
class GenerateResult:
    """All sequences of a request, ordered by (prompt_index, sequence_index)."""

    request_id: str
    sequences: Tuple[GeneratedSequence, ...]
    stats: Stats  # The whole request.

    @property
    def text(self) -> str:
        """The first sequence's text (the only one for one prompt and n=1)."""
        return self.sequences[0].text

    @property
    def tokens(self) -> Tuple[Token, ...]:
        return self.sequences[0].tokens

    @property
    def finish_reason(self) -> str:
        return self.sequences[0].finish_reason


@dataclass(frozen=True)
class StreamChunk:
    """Tokens accepted for one sequence since its previous chunk."""

    prompt_index: int
    sequence_index: int
    text_delta: str  # Newly completed text, valid UTF-8; concatenated, the sequence's text.
    tokens: Tuple[Token, ...]


@dataclass(frozen=True)
class SequenceEnd:
    """The last event of one sequence."""

    prompt_index: int
    sequence_index: int
    finish_reason: str
    matched_stop_string: str
    score: Optional[float]
    seed: int
    stats: Stats
    relevance: Tuple[TokenRelevance, ...] = ()  # With relevance: one per generated token.


StreamEvent = Union[StreamChunk, SequenceEnd]

_MODE_NAMES = {
    common_pb2.SPECULATION_MODE_UNSPECIFIED: "unspecified",
    common_pb2.SPECULATION_MODE_OFF: "off",
    common_pb2.SPECULATION_MODE_DRAFT_MODEL: "draft",
    common_pb2.SPECULATION_MODE_SELF_SPECULATIVE: "self",
    common_pb2.SPECULATION_MODE_NGRAM: "ngram",
}


def _seconds(d: Any) -> float:
    return d.seconds + d.nanos * 1e-9


def _finish_reason(value: int) -> str:
    return common_pb2.FinishReason.Name(value)[len("FINISH_REASON_"):].lower()


def _score(message: Any) -> Optional[float]:
    return message.score if message.HasField("score") else None


def relevance_from_proto(r: common_pb2.TokenRelevance) -> TokenRelevance:
    return TokenRelevance(
        position=r.position,
        top=tuple((p.position, p.score) for p in r.top),
        dense_scores=tuple(r.dense_scores),
        target=r.target,
        baseline=r.baseline,
    )


def token_from_proto(t: common_pb2.GeneratedToken) -> Token:
    return Token(
        id=t.token_id,
        piece=t.piece,
        logprob=t.logprob if t.HasField("logprob") else None,
        top_logprobs=tuple(TokenLogprob(a.token_id, a.logprob, a.piece) for a in t.top_logprobs),
        raw_distribution=tuple(
            TokenLogprob(a.token_id, a.logprob, a.piece) for a in t.raw_distribution),
        processed_distribution=tuple(
            TokenLogprob(a.token_id, a.logprob, a.piece) for a in t.processed_distribution),
        relevance=relevance_from_proto(t.relevance) if t.HasField("relevance") else None,
    )


def _speculation_from_proto(s: common_pb2.SpeculationStats) -> SpeculationStats:
    return SpeculationStats(
        mode=_MODE_NAMES.get(s.mode, "unspecified"),
        drafted_tokens=s.drafted_tokens,
        accepted_tokens=s.accepted_tokens,
        acceptance_rate=s.acceptance_rate,
        mean_accepted_length=s.mean_accepted_length,
        target_passes=s.target_passes,
        per_position_acceptance=tuple(
            PositionAcceptance(p.position, p.drafted, p.accepted)
            for p in s.per_position_acceptance),
        draft_time=_seconds(s.draft_time),
        verify_time=_seconds(s.verify_time),
        rpc_time=_seconds(s.rpc_time),
        pre_drafts=s.pre_drafts,
        pre_draft_hits=s.pre_draft_hits,
        draft_time_hidden=_seconds(s.draft_time_hidden),
        tree_alternatives=s.tree_alternatives,
        tree_alternative_hits=s.tree_alternative_hits,
    )


def stats_from_proto(s: common_pb2.GenerationStats) -> Stats:
    return Stats(
        prompt_tokens=s.prompt_tokens,
        generated_tokens=s.generated_tokens,
        total_time=_seconds(s.total_time),
        time_to_first_token=_seconds(s.time_to_first_token),
        mean_inter_token_latency=_seconds(s.mean_inter_token_latency),
        tokens_per_second=s.tokens_per_second,
        speculation=_speculation_from_proto(s.speculation) if s.HasField("speculation") else None,
    )


def result_from_proto(r: gs_pb2.GenerateResponse) -> GenerateResult:
    return GenerateResult(
        request_id=r.request_id,
        sequences=tuple(
            GeneratedSequence(
                prompt_index=s.prompt_index,
                sequence_index=s.sequence_index,
                text=s.text,
                tokens=tuple(token_from_proto(t) for t in s.tokens),
                finish_reason=_finish_reason(s.finish_reason),
                matched_stop_string=s.matched_stop_string,
                score=_score(s),
                seed=s.seed,
                stats=stats_from_proto(s.stats),
            )
            for s in r.sequences),
        stats=stats_from_proto(r.stats),
    )


def event_from_proto(m: gs_pb2.GenerateStreamResponse) -> Optional[StreamEvent]:
    """The event of one stream message; None for a message with neither (a newer server's event)."""
    if m.HasField("chunk"):
        c = m.chunk
        return StreamChunk(c.prompt_index, c.sequence_index, c.text_delta,
                           tuple(token_from_proto(t) for t in c.tokens))
    if m.HasField("sequence_end"):
        e = m.sequence_end
        return SequenceEnd(e.prompt_index, e.sequence_index, _finish_reason(e.finish_reason),
                           e.matched_stop_string, _score(e), e.seed, stats_from_proto(e.stats),
                           tuple(relevance_from_proto(r) for r in e.relevance))
    return None
