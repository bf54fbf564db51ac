"""Canonical JSON, base64 and packed-list helpers shared by sealing, attestation and the RPC protocol."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterable
from typing import Any

_ITEM_LENGTH = struct.Struct(">I")


def canonical_json(value: Any) -> bytes:
    """Deterministic UTF-8 JSON (sorted keys, no spaces): what gets hashed, signed or authenticated."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64; raises ``ValueError`` on anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc


def pack_blobs(items: Iterable[bytes]) -> bytes:
    """Byte strings as one: each prefixed with its 4-byte big-endian length."""
    return b"".join(_ITEM_LENGTH.pack(len(item)) + item for item in items)


def unpack_blobs(data: bytes) -> list[bytes]:
    """The byte strings of :func:`pack_blobs`; raises ``ValueError`` on a truncated or overlong item."""
    items: list[bytes] = []
    offset, size = 0, len(data)
    while offset < size:
        if offset + _ITEM_LENGTH.size > size:
            raise ValueError("truncated item length")
        (length,) = _ITEM_LENGTH.unpack_from(data, offset)
        offset += _ITEM_LENGTH.size
        if offset + length > size:
            raise ValueError("item longer than the data")
        items.append(data[offset : offset + length])
        offset += length
    return items
