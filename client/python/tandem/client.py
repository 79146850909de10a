"""Client: the blocking API over grpc (thread-safe; one channel per client)."""

from __future__ import annotations

from types import TracebackType
from typing import Callable, Generator, Optional, Sequence, Type, cast

import grpc

from tandem import _health
from tandem._base import GENERATION_SERVICE, ClientBase, Unpack
from tandem._errors import raising_tandem_errors
from tandem._gen.proto.tandem.v1 import generation_service_pb2 as gs_pb2
from tandem._gen.proto.tandem.v1.generation_service_pb2_grpc import GenerationServiceStub
from tandem._request import GenerateOptions, Message, Prompt, build_request, stream_request
from tandem._types import GenerateResult, StreamEvent, event_from_proto, result_from_proto


class Client(ClientBase):
    """A client of a tandem orchestrator, e.g. Client("localhost:50051").

    Failed calls raise a tandem.TandemError subclass (InvalidArgumentError, UnavailableError...).
    """

    def _open(self) -> None:
        if self._credentials is None:
            self._channel = grpc.insecure_channel(self.address, self._channel_options)
        else:
            self._channel = grpc.secure_channel(self.address, self._credentials,
                                                self._channel_options)
        self.stub = GenerationServiceStub(self._channel)
        # No serializers: bytes in, bytes out (see _health).
        self._health = cast(Callable[..., bytes], self._channel.unary_unary(_health.METHOD))

    def generate(self, prompt: Optional[Prompt] = None, *,
                 prompts: Optional[Sequence[Prompt]] = None,
                 messages: Optional[Sequence[Message]] = None, request_id: str = "",
                 timeout: Optional[float] = None,
                 **options: Unpack[GenerateOptions]) -> GenerateResult:
        """Generates every sequence of one prompt (text or token ids), of prompts=[...], or of
        one chat conversation (messages=[{"role": "user", "content": ...}]); returns them all."""
        request = build_request(prompt, prompts, messages, request_id, options)
        with raising_tandem_errors():
            response = self.stub.Generate(request, timeout=self._deadline(timeout))
        return result_from_proto(response)

    def generate_stream(self, prompt: Optional[Prompt] = None, *,
                        prompts: Optional[Sequence[Prompt]] = None,
                        messages: Optional[Sequence[Message]] = None, request_id: str = "",
                        timeout: Optional[float] = None,
                        **options: Unpack[GenerateOptions]
                        ) -> Generator[StreamEvent, None, None]:
        """As generate(), as events: StreamChunks while tokens are accepted (sequences interleave),
        then one SequenceEnd per sequence. The call starts on the first next(); leaving the loop
        early (break, or close()) cancels it on the server."""
        request = stream_request(build_request(prompt, prompts, messages, request_id, options))
        return self._events(request, self._deadline(timeout))

    def _events(self, request: gs_pb2.GenerateStreamRequest,
                timeout: Optional[float]) -> Generator[StreamEvent, None, None]:
        call = self.stub.GenerateStream(request, timeout=timeout)
        try:
            with raising_tandem_errors():
                for message in call:
                    event = event_from_proto(message)
                    if event is not None:
                        yield event
        finally:
            call.cancel()  # A no-op after the stream ended; frees the server's work otherwise.

    def health(self, service: str = GENERATION_SERVICE, *,
               timeout: Optional[float] = None) -> str:
        """grpc.health.v1 Check: "SERVING", "NOT_SERVING" or "UNKNOWN"; NOT_FOUND (TandemError)
        for a service the server does not know. service="" asks about the server as a whole."""
        with raising_tandem_errors():
            response = self._health(_health.encode_request(service),
                                    timeout=self._deadline(timeout))
        return _health.decode_response(response)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
