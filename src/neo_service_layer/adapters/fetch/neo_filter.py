"""Neo's oracle filter: a JSONPath applied to the fetched body, the matches returned as one JSON array.

As Neo's oracle nodes do (neo-go ``pkg/services/oracle/filter.go``, C# ``OracleService.Filter``): without a
filter (null, or empty as in the C# node) the result is the body itself; with one, the body is parsed as
JSON and the result is the compact JSON array of every match (``[]`` when nothing matches); a body that is
not JSON or a filter that does not parse gives ``Error``. Object keys keep their document order and
numbers are written as in the response (neo-go re-formats them through float64; ``1.50`` stays ``1.50``
here). The result is at most 65,535 bytes, else ``ResponseTooLarge``.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpath_rfc9535

from neo_service_layer.domain.native_oracle import MAX_RESULT_BYTES, NeoResponseCode


class _Number(float):
    """A JSON number compared as a float that remembers its text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> _Number:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dump(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def neo_filter(body: bytes, filter_: str | None) -> tuple[NeoResponseCode, bytes]:
    """(code, result) of Neo's filter over a successfully fetched ``body``."""
    if not filter_:
        if len(body) > MAX_RESULT_BYTES:
            return NeoResponseCode.RESPONSE_TOO_LARGE, b""
        return NeoResponseCode.SUCCESS, body
    try:
        document = json.loads(body.decode(), parse_float=_Number, parse_constant=_no_constant)
        nodes = jsonpath_rfc9535.find(filter_, document)
        result = _dump([node.value for node in nodes]).encode()
    except (ValueError, RecursionError, jsonpath_rfc9535.JSONPathError):
        return NeoResponseCode.ERROR, b""
    if len(result) > MAX_RESULT_BYTES:
        return NeoResponseCode.RESPONSE_TOO_LARGE, b""
    return NeoResponseCode.SUCCESS, result
