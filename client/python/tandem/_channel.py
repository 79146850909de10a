"""Channel credentials (plaintext, TLS, mutual TLS, bearer token) and call deadlines."""

from __future__ import annotations

import os
from typing import Optional, Union

import grpc

# A PEM file's path, or its contents as bytes.
Pem = Union[str, "os.PathLike[str]", bytes]


def _read(pem: Optional[Pem]) -> Optional[bytes]:
    if pem is None or isinstance(pem, bytes):
        return pem
    with open(pem, "rb") as f:
        return f.read()


def credentials(tls_ca: Optional[Pem], tls_cert: Optional[Pem], tls_key: Optional[Pem],
                token: Optional[str]) -> Optional[grpc.ChannelCredentials]:
    """None for plaintext; else TLS (system roots unless tls_ca), with a client certificate when
    tls_cert/tls_key are given and "authorization: Bearer <token>" on every call when token is.
    ValueError for a token without TLS (the servers never accept one in plaintext) or a
    certificate without its key."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("tls_cert and tls_key go together (mutual TLS)")
    if tls_ca is None and tls_cert is None:
        if token is not None:
            raise ValueError("a token needs TLS: give tls_ca (or tls_cert/tls_key)")
        return None
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read(tls_ca), private_key=_read(tls_key),
        certificate_chain=_read(tls_cert))
    if token is not None:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return creds
