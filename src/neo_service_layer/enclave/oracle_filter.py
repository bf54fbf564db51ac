"""From a fetched body to the oracle result: content types, RFC 9535 JSONPath filter, serialisation.

Rules (documented in ``docs/oracle.md``):

- JSON (``application/json`` or ``*/*+json``) and text (``text/*``) responses are accepted; any other or
  a missing content type gives ``UNSUPPORTED_CONTENT_TYPE``.
- No filter: the result is the body, decoded (JSON: UTF-8; text: its ``charset``, default UTF-8) and
  re-encoded as UTF-8.
- A filter on a text body: ``BAD_FILTER``. A filter that does not parse: ``BAD_FILTER``.
- A filter on a JSON body: no match gives ``NOT_FOUND``; one match gives the JSON serialisation of that
  node; several matches give the JSON array of all of them, in document order of the query's node list.
- Serialisation: compact (no spaces), object keys sorted by code point, non-ASCII characters as UTF-8,
  numbers exactly as written in the response (``1.50`` stays ``1.50``).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

import jsonpath_rfc9535

from neo_service_layer.enclave.wire.oracle import ResultCode


@dataclass(frozen=True, slots=True)
class Filtered:
    code: ResultCode
    result: bytes = b""
    message: str = ""


class _Number(float):
    """A JSON number read as a float (so filters compare it numerically) that remembers its text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> _Number:
        number = super().__new__(cls, text)
        number.text = text
        return number


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """(lower-case media type, charset or None) of a Content-Type header value."""
    if not content_type:
        return "", None
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return main.strip().lower(), charset


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def is_text(media: str) -> bool:
    return media.startswith("text/")


def check_filter(filter_: str) -> str | None:
    """The syntax error of a filter (first line only), or None if it compiles."""
    if not filter_:
        return None
    try:
        jsonpath_rfc9535.compile(filter_)
    except jsonpath_rfc9535.JSONPathError as exc:
        return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return None


def apply_filter(body: bytes, content_type: str | None, filter_: str, max_result: int) -> Filtered:
    """The result bytes for ``body`` under ``filter_`` (see the module docstring), or a failure code."""
    error = check_filter(filter_)
    if error is not None:
        return Filtered(ResultCode.BAD_FILTER, message=f"filter does not parse: {error}")
    media, charset = media_type(content_type)
    if is_text(media):
        if filter_:
            return Filtered(ResultCode.BAD_FILTER, message="a filter applies to JSON responses only")
        text = _decode(body, charset or "utf-8")
        if text is None:
            return Filtered(ResultCode.UPSTREAM_ERROR, message="text response does not decode")
        return _sized(text.encode(), max_result)
    if not is_json(media):
        shown = media[:100] or "none"
        return Filtered(ResultCode.UNSUPPORTED_CONTENT_TYPE, message=f"content type {shown} is not supported")
    text = _decode(body, "utf-8-sig")
    if text is None:
        return Filtered(ResultCode.UPSTREAM_ERROR, message="JSON response is not UTF-8")
    if not filter_:
        return _sized(text.encode(), max_result)
    try:
        document = json.loads(text, parse_float=_Number, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return Filtered(ResultCode.UPSTREAM_ERROR, message="response is not valid JSON")
    try:
        nodes = jsonpath_rfc9535.find(filter_, document)
    except jsonpath_rfc9535.JSONPathRecursionError:
        return Filtered(ResultCode.UPSTREAM_ERROR, message="response is nested too deeply")
    except jsonpath_rfc9535.JSONPathError:
        return Filtered(ResultCode.BAD_FILTER, message="filter failed on this response")
    if not nodes:
        return Filtered(ResultCode.NOT_FOUND, message="filter matched nothing")
    values = [node.value for node in nodes]
    try:
        serialised = serialise(values[0] if len(values) == 1 else values)
    except RecursionError:
        return Filtered(ResultCode.UPSTREAM_ERROR, message="response is nested too deeply")
    return _sized(serialised.encode(), max_result)


def serialise(value: Any) -> str:
    """Compact JSON with sorted keys and numbers as written in the source document."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(serialise(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{serialise(v)}" for k, v in items) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _sized(result: bytes, max_result: int) -> Filtered:
    if len(result) > max_result:
        return Filtered(ResultCode.TOO_LARGE, message=f"result of {len(result)} bytes exceeds {max_result}")
    return Filtered(ResultCode.SUCCESS, result)


def _decode(body: bytes, charset: str) -> str | None:
    try:
        codecs.lookup(charset)
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
