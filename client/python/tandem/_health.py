"""grpc.health.v1.Health/Check without generated health stubs.

Registering grpc.health.v1 messages in the default descriptor pool would clash with
grpcio-health-checking's (same message names, different file) in any process that also imports
it, e.g. a Python server using this client. The two messages have a single field each, so this
module encodes and decodes them by hand (protobuf wire format).
"""

from __future__ import annotations

METHOD = "/grpc.health.v1.Health/Check"
# HealthCheckResponse.ServingStatus.
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in HealthCheckResponse")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def encode_request(service: str) -> bytes:
    """HealthCheckRequest{service}: field 1, length-delimited."""
    name = service.encode()
    return b"\x0a" + _varint(len(name)) + name if name else b""


def decode_response(data: bytes) -> str:
    """The ServingStatus name of a HealthCheckResponse (field 1, varint); unknown fields skipped."""
    status, pos = 0, 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
            if field == 1:
                status = value
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unexpected wire type {wire_type} in HealthCheckResponse")
    return STATUS_NAMES.get(status, "UNKNOWN")
