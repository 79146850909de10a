"""Python client of tandem's GenerationService (speculative-decoding text generation).

    import tandem
    with tandem.Client("localhost:50051") as client:
        print(client.generate("Once upon a time", max_new_tokens=32, temperature=0).text)

Client is blocking, AsyncClient the same API for asyncio. Results are frozen dataclasses;
failed calls raise TandemError subclasses carrying the gRPC status code and message.
"""

from tandem._errors import (
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    ResourceExhaustedError,
    TandemError,
    UnauthenticatedError,
    UnavailableError,
)
from tandem._request import ChatMessage, GenerateOptions, Message, Prompt
from tandem._types import (
    GeneratedSequence,
    GenerateResult,
    PositionAcceptance,
    SequenceEnd,
    SpeculationStats,
    Stats,
    StreamChunk,
    StreamEvent,
    Token,
    TokenLogprob,
    TokenRelevance,
)
from tandem.aio import AsyncClient
from tandem.client import Client

__all__ = [
    "AsyncClient", "CancelledError", "ChatMessage", "Client", "DeadlineExceededError",
    "FailedPreconditionError", "GenerateOptions", "GenerateResult", "GeneratedSequence",
    "InternalError", "InvalidArgumentError", "Message", "PositionAcceptance", "Prompt",
    "ResourceExhaustedError", "SequenceEnd", "SpeculationStats", "Stats", "StreamChunk",
    "StreamEvent", "TandemError", "Token", "TokenLogprob", "TokenRelevance",
    "UnauthenticatedError", "UnavailableError",
]
