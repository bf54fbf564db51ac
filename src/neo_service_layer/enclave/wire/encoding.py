"""Canonical JSON, base64 and packed-list helpers shared by sealing, attestation and the RPC protocol,
and the check that parsed JSON is Unicode text (shared with the HTTP edge)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Iterable
from typing import Any

_ITEM_LENGTH = struct.Struct(">I")
#: what JSON text must contain to decode to a surrogate: a ``\uD800``-``\uDFFF`` escape, or those code
#: points as raw (CESU-8, invalid UTF-8) bytes, which ``json.loads`` of bytes lets through
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def may_hold_surrogate(text: bytes) -> bool:
    """Whether JSON ``text`` could decode to a surrogate (when not, there is no need to look)."""
    return _MAY_HOLD_SURROGATE.search(text) is not None


def json_holds_lone_surrogate(text: bytes, value: Any) -> bool:
    """Whether ``value`` (``json.loads(text)``) holds a lone surrogate in a string or a key.

    JSON lets ``"\\ud800"`` through and Python decodes it to a string that is not Unicode text: it
    cannot be encoded as UTF-8, so whatever stores, hashes or forwards it later fails. A cheap scan of
    ``text`` rules out nearly every document; only a possible one is walked (iteratively: any depth).
    """
    if not may_hold_surrogate(text):
        return False
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
