"""Binary values in request and response bodies, and the strict base model every request body uses.

Binary values travel as text in the encoding the request names (``hex``, with or without ``0x``, or
standard ``base64``); a value that does not decode is a 422 problem naming the field. Responses use the
request's encoding. Messages of validation errors never repeat the value. Shared by the keys, secrets
and attestation schemas.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

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


#: what ``decode`` accepts, as JSON Schema patterns (the schema states the rule the code checks)
HEX_PATTERN = r"^(0[xX])?([0-9a-fA-F]{2})*$"
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def encoded_fields(*fields: str, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """``json_schema_extra`` for a body with an ``encoding``: each field in ``fields`` (and each item of
    the arrays in ``lists``) matches the pattern of the encoding the body names (``hex`` by default)."""

    def properties(pattern: str) -> dict[str, Any]:
        found: dict[str, Any] = {name: {"pattern": pattern} for name in fields}
        found.update({name: {"items": {"pattern": pattern}} for name in lists})
        return {"properties": found}

    base64 = {"properties": {"encoding": {"const": "base64"}}, "required": ["encoding"]}
    return {"allOf": [{"if": base64, "then": properties(BASE64_PATTERN), "else": properties(HEX_PATTERN)}]}


def encode(data: bytes, encoding: Encoding) -> str:
    return data.hex() if encoding == "hex" else base64.b64encode(data).decode()


def check_encoded(value: str | None, info: ValidationInfo) -> str | None:
    """A field validator: ``value`` decodes in the body's ``encoding`` (``hex`` when not given).

    ``None`` (JSON ``null``) passes through: an optional field left out is the model's business, and a
    required one was already refused by its type."""
    if value is not None:
        decode(value, info.data.get("encoding", "hex"))
    return value


class Strict(BaseModel):
    """The base of every request body: unknown fields and JSON booleans where a number is expected are
    refused (422), as the schema states (``additionalProperties: false``, ``type: integer``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if isinstance(data.get(key), bool) and _numeric(field.annotation):
                    raise ValueError(f"{key}: a number is expected, not a boolean")
        return data


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (``int``, ``float``, optional or in a union with ``None``)."""
    if annotation in (int, float):
        return True
    arguments = get_args(annotation)
    return bool(arguments) and all(a in (int, float, type(None)) for a in arguments)
