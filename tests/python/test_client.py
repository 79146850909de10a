"""tandem.Client against real servers (see conftest.py)."""

from __future__ import annotations

import math
import time
from typing import Iterator, List, Literal, Tuple, Unpack

import grpc
import pytest

import tandem
from conftest import LOGS, RUNFILES, TLS, TOKEN

PROMPT = "In the beginning God created the heaven and the earth."


def greedy(**options: Unpack[tandem.GenerateOptions]) -> tandem.GenerateOptions:
    """40 greedy tokens (EOS ignored) and `options`."""
    return {"temperature": 0.0, "max_new_tokens": 40, "ignore_eos": True, **options}


def ids(tokens: Tuple[tandem.Token, ...]) -> List[int]:
    return [t.id for t in tokens]


@pytest.fixture()
def client(address: str) -> Iterator[tandem.Client]:
    with tandem.Client(address, timeout=60) as c:
        yield c


@pytest.mark.parametrize("mode", ["draft", "self", "ngram"])
def test_greedy_output_is_identical_in_every_speculation_mode(
        client: tandem.Client, mode: Literal["draft", "self", "ngram"]) -> None:
    off = client.generate(PROMPT, **greedy(speculation="off"))
    result = client.generate(PROMPT, **greedy(speculation=mode, draft_length=4))
    assert ids(result.tokens) == ids(off.tokens)
    assert result.text == off.text and len(result.tokens) == 40
    assert result.finish_reason == "length"
    assert result.stats.speculation is not None and result.stats.speculation.mode == mode
    assert result.stats.generated_tokens == 40


def test_token_trees_are_exact_and_counted(client: tandem.Client) -> None:
    off = client.generate(PROMPT, **greedy(speculation="off"))
    result = client.generate(PROMPT, **greedy(speculation="draft", draft_length=3, tree=(2, 2)))
    assert ids(result.tokens) == ids(off.tokens)
    spec = result.stats.speculation
    assert spec is not None and spec.tree_alternatives > 0
    assert 0 <= spec.tree_alternative_hits <= spec.target_passes
    with pytest.raises(ValueError, match="tree"):
        client.generate(PROMPT, tree=(1,))  # type: ignore[arg-type]
    with pytest.raises(tandem.InvalidArgumentError, match="config.speculation.tree"):
        client.generate(PROMPT, **greedy(speculation="ngram", tree=(1, 1)))


def test_draft_model_speculation_reports_its_statistics(client: tandem.Client) -> None:
    result = client.generate(PROMPT, **greedy(speculation="draft", draft_length=4))
    stats = result.sequences[0].stats
    spec = stats.speculation
    assert spec is not None and spec.drafted_tokens > 0
    assert 0 <= spec.accepted_tokens <= spec.drafted_tokens
    assert spec.target_passes > 0 and spec.mean_accepted_length >= 1
    assert [p.position for p in spec.per_position_acceptance] == [1, 2, 3, 4]
    assert stats.total_time > 0 and stats.prompt_tokens > 0
    # The request's totals sum the sequences, per position too.
    total = result.stats.speculation
    assert total is not None
    assert [(p.drafted, p.accepted) for p in total.per_position_acceptance] == [
        (p.drafted, p.accepted) for p in spec.per_position_acceptance]


def test_stream_deltas_concatenate_to_the_unary_text(client: tandem.Client) -> None:
    unary = client.generate(PROMPT, **greedy(speculation="draft"))
    events = list(client.generate_stream(PROMPT, **greedy(speculation="draft")))
    chunks = [e for e in events if isinstance(e, tandem.StreamChunk)]
    assert len(chunks) > 1
    assert "".join(c.text_delta for c in chunks) == unary.text
    assert [t for c in chunks for t in ids(c.tokens)] == ids(unary.tokens)
    assert isinstance(events[-1], tandem.SequenceEnd)
    assert sum(isinstance(e, tandem.SequenceEnd) for e in events) == 1
    assert events[-1].finish_reason == "length" and events[-1].stats.generated_tokens == 40


def test_seeded_sequences_are_reproducible(client: tandem.Client) -> None:
    options: tandem.GenerateOptions = {"n": 3, "temperature": 1.0, "top_k": 50, "seed": 1234,
                                       "max_new_tokens": 16}
    first = client.generate(PROMPT, **options)
    second = client.generate(PROMPT, **options)
    assert [(s.prompt_index, s.sequence_index) for s in first.sequences] == [(0, 0), (0, 1), (0, 2)]
    assert [s.text for s in first.sequences] == [s.text for s in second.sequences]
    assert [s.seed for s in first.sequences] == [s.seed for s in second.sequences]
    again = client.generate(PROMPT, n=1, temperature=1.0, top_k=50,
                            seed=first.sequences[2].seed, max_new_tokens=16)
    assert again.text == first.sequences[2].text


def test_stop_string_ends_the_sequence_before_it(client: tandem.Client) -> None:
    full = client.generate(PROMPT, **greedy()).text
    words = full.split()
    stop = words[len(words) // 2]
    result = client.generate(PROMPT, **greedy(stop=["no such text", stop]))
    assert result.finish_reason == "stop_string"
    assert result.sequences[0].matched_stop_string == stop
    assert result.text == full[:full.index(stop)]


def test_logprobs_with_top_alternatives(client: tandem.Client) -> None:
    result = client.generate(PROMPT, **greedy(logprobs=True, top_logprobs=3))
    for token in result.tokens:
        assert token.logprob is not None and token.logprob <= 0
        assert len(token.top_logprobs) == 3
        best = token.top_logprobs[0]
        assert best.id == token.id and best.logprob == pytest.approx(token.logprob, abs=1e-5)
        assert [a.logprob for a in token.top_logprobs] == sorted(
            (a.logprob for a in token.top_logprobs), reverse=True)
    # The first piece keeps SentencePiece's word-start space, which the text drops.
    assert b"".join(t.piece for t in result.tokens).decode().lstrip(" ") == result.text
    assert all(t.logprob is None for t in client.generate(PROMPT, **greedy()).tokens)


def test_raw_and_processed_distributions(client: tandem.Client) -> None:
    result = client.generate(PROMPT, temperature=0.7, top_k=5, seed=3, max_new_tokens=4,
                             distribution_top_n=50)
    for token in result.tokens:
        assert len(token.raw_distribution) == 50
        # top_k 5 leaves at most 5 possible tokens (more only on ties at the 5th).
        assert 1 <= len(token.processed_distribution) <= 6
        assert token.id in [a.id for a in token.processed_distribution]
        raw = [a.logprob for a in token.raw_distribution]
        assert raw == sorted(raw, reverse=True)
        assert sum(math.exp(a.logprob) for a in token.processed_distribution) == pytest.approx(
            1.0, abs=1e-4)
        # Temperature 0.7 sharpens: the most likely token gains probability.
        assert token.processed_distribution[0].logprob > token.raw_distribution[0].logprob
    assert client.generate(PROMPT, **greedy()).tokens[0].raw_distribution == ()


def test_relevance_unary_and_streamed(client: tandem.Client) -> None:
    options = greedy(max_new_tokens=4, relevance={"method": "ixg", "top_n": 3, "dense": True})
    result = client.generate(PROMPT, **options)
    prompt_tokens = result.sequences[0].stats.prompt_tokens
    for i, token in enumerate(result.tokens):
        r = token.relevance
        assert r is not None and r.position == prompt_tokens + i
        assert len(r.top) == 3 and len(r.dense_scores) == r.position
        assert [abs(s) for _, s in r.top] == sorted((abs(s) for _, s in r.top), reverse=True)
        # The top list is the dense list's largest |score| entries.
        best = max(range(r.position), key=lambda j: abs(r.dense_scores[j]))
        assert r.top[0][0] == best
    ends = [e for e in client.generate_stream(PROMPT, **options)
            if isinstance(e, tandem.SequenceEnd)]
    assert len(ends) == 1
    assert ends[0].relevance == tuple(t.relevance for t in result.tokens)
    assert client.generate(PROMPT, **greedy(max_new_tokens=2)).tokens[0].relevance is None
    with pytest.raises(ValueError, match="relevance method"):
        client.generate(PROMPT, **greedy(relevance={"method": "lrp"}))


def test_token_id_and_several_prompts(client: tandem.Client) -> None:
    first = client.generate(PROMPT, max_new_tokens=8, temperature=0.0)
    result = client.generate(prompts=[PROMPT, ids(first.tokens)], max_new_tokens=8,
                             temperature=0.0)
    assert [s.prompt_index for s in result.sequences] == [0, 1]
    assert result.sequences[0].text == first.text


def test_out_of_range_option_raises_invalid_argument_naming_the_field(
        client: tandem.Client) -> None:
    with pytest.raises(tandem.InvalidArgumentError) as error:
        client.generate(PROMPT, top_p=1.5)
    assert isinstance(error.value, tandem.TandemError)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "top_p" in error.value.message
    assert not error.value.retryable
    with pytest.raises(tandem.InvalidArgumentError, match="top_p"):
        list(client.generate_stream(PROMPT, top_p=1.5))


def test_errors_the_request_cannot_express_are_raised_before_any_call(
        client: tandem.Client) -> None:
    with pytest.raises(TypeError, match="unknown option"):
        client.generate(PROMPT, max_tokens=4)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="speculation"):
        client.generate(PROMPT, speculation="medusa")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly one"):
        client.generate(PROMPT, prompts=[PROMPT])


def test_chat_without_a_template_is_a_failed_precondition(client: tandem.Client) -> None:
    with pytest.raises(tandem.FailedPreconditionError):
        client.generate(messages=[{"role": "user", "content": "Hello"}], max_new_tokens=4)


def test_health_reports_serving(client: tandem.Client) -> None:
    assert client.health() == "SERVING"
    assert client.health("") == "SERVING"
    with pytest.raises(tandem.TandemError) as error:
        client.health("no.such.Service")
    assert error.value.code == grpc.StatusCode.NOT_FOUND


def wait_for_log(name: str, *needles: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in (LOGS / f"{name}.log").read_text().splitlines():
            if all(n in line for n in needles):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {needles} in {name}.log")


def test_leaving_a_stream_early_cancels_it_on_the_server(client: tandem.Client) -> None:
    for event in client.generate_stream(PROMPT, request_id="py-sync-cancel", speculation="off",
                                        temperature=0.0, max_new_tokens=800, ignore_eos=True):
        assert isinstance(event, tandem.StreamChunk)
        break
    wait_for_log("orchestrator", '"py-sync-cancel"', '"code":"CANCELLED"')
    assert client.generate(PROMPT, max_new_tokens=4).stats.generated_tokens >= 1


def test_tls_with_a_bearer_token(tls_address: str) -> None:
    with tandem.Client(tls_address, tls_ca=str(TLS / "ca.crt"), token=TOKEN, timeout=60) as c:
        assert c.generate(PROMPT, max_new_tokens=4, temperature=0.0).stats.generated_tokens == 4
    with tandem.Client(tls_address, tls_ca=(TLS / "ca.crt").read_bytes(), token="wrong") as c:
        with pytest.raises(tandem.UnauthenticatedError):
            c.generate(PROMPT, max_new_tokens=4)
    with pytest.raises(ValueError, match="TLS"):
        tandem.Client(tls_address, token=TOKEN)


def test_readme_example_runs(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (RUNFILES / "client/python/README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    exec(example.replace("127.0.0.1:50050", address), {})
    assert capsys.readouterr().out.rstrip().endswith("SERVING")
