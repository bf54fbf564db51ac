"""Binary values in request and response bodies, and the strict base model every request body uses.

Binary values travel as text in the encoding the request names (``hex``, with or without ``0x``, or
standard ``base64``); a value that does not decode is a 422 problem naming the field. Responses use the
request's encoding. Messages of validation errors never repeat the value. Shared by the keys, secrets
and attestation schemas.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo

Encoding = Literal["hex", "base64"]
MAX_MESSAGE_TEXT = 2 * 64 * 1024  # 64 KiB as hex


def decode(text: str, encoding: Encoding) -> bytes:
    """Strictly decode ``text``; ``ValueError`` (without the value) when it is not valid."""
    if encoding == "hex":
        body = text[2:] if text.startswith(("0x", "0X")) else text
        try:
            data = bytes.fromhex(body)
        except ValueError:
            return _fail(encoding)
        if 2 * len(data) != len(body):  # ``fromhex`` skips whitespace, which is not valid here
            return _fail(encoding)
        return data
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return _fail(encoding)


def _fail(encoding: Encoding) -> bytes:
    raise ValueError(f"not valid {encoding}")


def encode(data: bytes, encoding: Encoding) -> str:
    return data.hex() if encoding == "hex" else base64.b64encode(data).decode()


def check_encoded(value: str, info: ValidationInfo) -> str:
    """A field validator: ``value`` decodes in the body's ``encoding`` (``hex`` when not given)."""
    decode(value, info.data.get("encoding", "hex"))
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
