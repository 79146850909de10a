"""Errors: every failed RPC raises a TandemError subclass chosen by its gRPC status code."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Type

import grpc


class TandemError(Exception):
    """A failed call. `code` is the gRPC status code, `message` the server's message.

    The status codes and their meaning are listed in proto/tandem/v1/generation_service.proto;
    `retryable` is true for the ones it says to retry with backoff.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE)


class InvalidArgumentError(TandemError):
    """A request field out of range; the message names the field and its allowed range."""


class FailedPreconditionError(TandemError):
    """The server cannot serve this request as configured (e.g. chat messages, no chat template)."""


class ResourceExhaustedError(TandemError):
    """Admission limit reached. Retry with exponential backoff."""


class UnavailableError(TandemError):
    """No server or replica reachable, or the server is draining. Retry with backoff."""


class DeadlineExceededError(TandemError):
    """The call's timeout passed."""


class CancelledError(TandemError):
    """The call was cancelled."""


class UnauthenticatedError(TandemError):
    """Missing or wrong bearer token."""


class InternalError(TandemError):
    """A server bug or model failure."""


_BY_CODE: Dict[grpc.StatusCode, Type[TandemError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def from_rpc_error(error: grpc.RpcError) -> TandemError:
    """The TandemError for a failed sync or asyncio call (both implement code()/details())."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    message: str = error.details() or ""  # type: ignore[attr-defined]
    return _BY_CODE.get(code, TandemError)(code, message)


@contextmanager
def raising_tandem_errors() -> Iterator[None]:
    """Turns a grpc.RpcError raised inside the block into its TandemError."""
    try:
        yield
    except grpc.RpcError as e:
        raise from_rpc_error(e) from None
