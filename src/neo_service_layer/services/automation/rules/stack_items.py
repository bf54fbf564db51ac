"""NeoVM binary serialization (``StdLib.serialize``'s format) of plain values, standard library only.

An event-triggered run passes the event's values to its target as ``data``; the target reads them back
with ``StdLib.deserialize(data)``. Values are what the chain port decodes: ``int``, ``bytes``, ``str``
(as a byte string), ``bool``, ``None`` and tuples (arrays). A map or anything else is not encodable.
"""

from __future__ import annotations

_ANY = 0x00
_BOOLEAN = 0x20
_INTEGER = 0x21
_BYTE_STRING = 0x28
_ARRAY = 0x40

MAX_DEPTH = 8


class NotSerializable(ValueError):
    """The value holds something NeoVM's serializer would not (a map, a float...)."""


def _var_int(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def integer_bytes(value: int) -> bytes:
    """NeoVM's integer encoding: minimal little-endian two's complement, ``b""`` for zero."""
    if value == 0:
        return b""
    length = (value.bit_length() + 8) // 8
    raw = value.to_bytes(length, "little", signed=True)
    while len(raw) > 1 and ((raw[-1] == 0x00 and raw[-2] < 0x80) or (raw[-1] == 0xFF and raw[-2] >= 0x80)):
        raw = raw[:-1]
    return raw


def serialize(value: object, depth: int = 0) -> bytes:
    """``value`` as ``StdLib.serialize`` would write it; ``NotSerializable`` otherwise."""
    if depth > MAX_DEPTH:
        raise NotSerializable("nested too deeply")
    if value is None:
        return bytes([_ANY])
    if isinstance(value, bool):
        return bytes([_BOOLEAN, 1 if value else 0])
    if isinstance(value, int):
        raw = integer_bytes(value)
        return bytes([_INTEGER]) + _var_int(len(raw)) + raw
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return bytes([_BYTE_STRING]) + _var_int(len(value)) + value
    if isinstance(value, tuple | list):
        return bytes([_ARRAY]) + _var_int(len(value)) + b"".join(serialize(v, depth + 1) for v in value)
    raise NotSerializable(f"a {type(value).__name__} is not serializable")
