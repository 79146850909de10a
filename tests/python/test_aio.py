"""tandem.AsyncClient against real servers: the asyncio twins of test_client.py's main cases."""

from __future__ import annotations

import asyncio
from typing import Awaitable, List, Tuple, TypeVar

import grpc
import pytest

import tandem
from test_client import PROMPT, greedy, ids, wait_for_log


T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


def test_async_generate_equals_sync(address: str) -> None:
    with tandem.Client(address) as c:
        expected = c.generate(PROMPT, **greedy(speculation="draft"))

    async def main() -> tandem.GenerateResult:
        async with tandem.AsyncClient(address, timeout=60) as c:
            return await c.generate(PROMPT, **greedy(speculation="draft"))

    result = run(main())
    assert ids(result.tokens) == ids(expected.tokens) and result.text == expected.text


def test_async_stream_deltas_concatenate_to_the_unary_text(address: str) -> None:
    async def main() -> Tuple[tandem.GenerateResult, List[tandem.StreamEvent]]:
        async with tandem.AsyncClient(address, timeout=60) as c:
            unary = await c.generate(PROMPT, **greedy(speculation="ngram"))
            stream = c.generate_stream(PROMPT, **greedy(speculation="ngram"))
            events = [e async for e in stream]
            return unary, events

    unary, events = run(main())
    chunks = [e for e in events if isinstance(e, tandem.StreamChunk)]
    assert "".join(c.text_delta for c in chunks) == unary.text
    assert [t for c in chunks for t in ids(c.tokens)] == ids(unary.tokens)
    assert isinstance(events[-1], tandem.SequenceEnd) and events[-1].finish_reason == "length"


def test_async_errors_and_health(address: str) -> None:
    async def main() -> tandem.TandemError:
        async with tandem.AsyncClient(address, timeout=60) as c:
            assert await c.health() == "SERVING"
            with pytest.raises(tandem.InvalidArgumentError) as error:
                await c.generate(PROMPT, temperature=-1.0)
            return error.value

    error = run(main())
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "temperature" in error.message


def test_async_leaving_a_stream_early_cancels_it_on_the_server(address: str) -> None:
    async def main() -> tandem.GenerateResult:
        async with tandem.AsyncClient(address, timeout=60) as c:
            async for event in c.generate_stream(PROMPT, request_id="py-async-cancel",
                                                 speculation="off", temperature=0.0,
                                                 max_new_tokens=800, ignore_eos=True):
                assert isinstance(event, tandem.StreamChunk)
                break
            # asyncio closes the abandoned generator from its loop (await aclose() does it at once).
            return await c.generate(PROMPT, max_new_tokens=4)

    assert run(main()).stats.generated_tokens >= 1
    wait_for_log("orchestrator", '"py-async-cancel"', '"code":"CANCELLED"')
