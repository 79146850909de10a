"""AsyncClient: the asyncio API over grpc.aio, the same methods as Client awaited.

Create it inside the event loop that uses it (grpc.aio channels belong to one loop).
"""

from __future__ import annotations

from types import TracebackType
from typing import AsyncGenerator, Awaitable, Callable, Optional, Sequence, Type, cast

import grpc.aio

from tandem import _health
from tandem._base import GENERATION_SERVICE, ClientBase, Unpack
from tandem._errors import raising_tandem_errors
from tandem._gen.proto.tandem.v1 import generation_service_pb2 as gs_pb2
from tandem._gen.proto.tandem.v1.generation_service_pb2_grpc import GenerationServiceStub
from tandem._request import GenerateOptions, Message, Prompt, build_request, stream_request
from tandem._types import GenerateResult, StreamEvent, event_from_proto, result_from_proto


class AsyncClient(ClientBase):
    """As tandem.Client, for asyncio: `async with AsyncClient(address) as client: ...`."""

    def _open(self) -> None:
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(self.address, self._channel_options)
        else:
            self._channel = grpc.aio.secure_channel(self.address, self._credentials,
                                                    self._channel_options)
        self.stub = GenerationServiceStub(self._channel)
        # No serializers: bytes in, bytes out (see _health).
        self._health = cast(Callable[..., Awaitable[bytes]],
                            self._channel.unary_unary(_health.METHOD))

    async def generate(self, prompt: Optional[Prompt] = None, *,
                       prompts: Optional[Sequence[Prompt]] = None,
                       messages: Optional[Sequence[Message]] = None, request_id: str = "",
                       timeout: Optional[float] = None,
                       **options: Unpack[GenerateOptions]) -> GenerateResult:
        """As Client.generate()."""
        request = build_request(prompt, prompts, messages, request_id, options)
        with raising_tandem_errors():
            response = await self.stub.Generate(request, timeout=self._deadline(timeout))
        return result_from_proto(response)

    def generate_stream(self, prompt: Optional[Prompt] = None, *,
                        prompts: Optional[Sequence[Prompt]] = None,
                        messages: Optional[Sequence[Message]] = None, request_id: str = "",
                        timeout: Optional[float] = None,
                        **options: Unpack[GenerateOptions]
                        ) -> AsyncGenerator[StreamEvent, None]:
        """As Client.generate_stream(), iterated with `async for`. Leaving the loop early cancels
        the call once the generator is closed (at once with `await stream.aclose()`)."""
        request = stream_request(build_request(prompt, prompts, messages, request_id, options))
        return self._events(request, self._deadline(timeout))

    async def _events(self, request: gs_pb2.GenerateStreamRequest,
                      timeout: Optional[float]) -> AsyncGenerator[StreamEvent, None]:
        call = self.stub.GenerateStream(request, timeout=timeout)
        try:
            with raising_tandem_errors():
                async for message in call:
                    event = event_from_proto(message)
                    if event is not None:
                        yield event
        finally:
            call.cancel()  # A no-op after the stream ended; frees the server's work otherwise.

    async def health(self, service: str = GENERATION_SERVICE, *,
                     timeout: Optional[float] = None) -> str:
        """As Client.health()."""
        with raising_tandem_errors():
            response = await self._health(_health.encode_request(service),
                                          timeout=self._deadline(timeout))
        return _health.decode_response(response)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        await self.close()
