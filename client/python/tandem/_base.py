"""What Client and AsyncClient share: connection settings and the default call timeout."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

import grpc

from tandem._channel import Pem, credentials

if sys.version_info >= (3, 11):
    from typing import Unpack as Unpack
elif TYPE_CHECKING:
    from typing_extensions import Unpack as Unpack

# The health service name each tandem orchestrator reports for its API.
GENERATION_SERVICE = "tandem.v1.GenerationService"
ChannelOptions = Sequence[Tuple[str, Any]]


class ClientBase:
    """Settings of one channel. tls_* are PEM file paths or PEM bytes; timeout is in seconds
    (None = no deadline) and applies to every call that does not pass its own."""

    def __init__(self, address: str, *, tls_ca: Optional[Pem] = None,
                 tls_cert: Optional[Pem] = None, tls_key: Optional[Pem] = None,
                 token: Optional[str] = None, timeout: Optional[float] = None,
                 channel_options: ChannelOptions = ()) -> None:
        self.address = address
        self._credentials: Optional[grpc.ChannelCredentials] = credentials(
            tls_ca, tls_cert, tls_key, token)
        self._channel_options: List[Tuple[str, Any]] = list(channel_options)
        self._timeout = timeout
        self._open()

    def _open(self) -> None:
        """Creates the channel and stubs (Client: grpc, AsyncClient: grpc.aio)."""
        raise NotImplementedError

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return self._timeout if timeout is None else timeout
