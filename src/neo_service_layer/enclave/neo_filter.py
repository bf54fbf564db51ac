r"""Neo's oracle filter: a JSONPath applied to the fetched body, the matches returned as one JSON array.

Applied in the enclave by ``native_oracle_respond`` to the body it fetched itself (the host has no copy).

As Neo's oracle nodes do (neo-go ``pkg/services/oracle/filter.go``, C# ``OracleService.Filter``): without a
filter (null, or empty as in the C# node) the result is the body itself; with one, the body is parsed as
JSON and the result is the compact JSON array of every match (``[]`` when nothing matches); a body that is
not UTF-8 JSON or a filter that does not parse gives ``Error``. Filters are Neo's JSONPath evaluated as
neo-go evaluates it (``neo_jsonpath``: its grammar, slices and limits of 6 levels of descent and 1,024
values a step); a filter with anything else (filter expressions ``?(...)``, functions, double quotes,
spaces) is ``Error``, as on neo-go and C# nodes. The result is at most 65,535 bytes, else
``ResponseTooLarge``.

The matches are written byte for byte as neo-go writes them, so a dApp moving between nodes reads the
same result: object keys in document order; every number through float64, as Go's ``encoding/json``
formats it (shortest round-trip digits, exponent form below 1e-6 and from 1e21: ``1.50`` -> ``1.5``,
``100.0`` -> ``100``, ``1E5`` -> ``100000``, ``1e22`` -> ``1e+22``; a number beyond float64 is ``Error``);
strings in ASCII as neo-go writes them (the escapes .NET's default JSON encoder makes): ``\b``,
``\t``, ``\n``, ``\f``, ``\r`` and ``\\`` as two characters; printable ASCII as is, except ``"``, ``&``,
``'``, ``+``, ``<``, ``>`` and the backtick; those, the other control characters, DEL and every
non-ASCII character as a ``\u`` escape of four upper-case hex digits (``é`` -> ``\u00E9``; beyond the BMP
two such escapes, one per UTF-16 unit); a lone
surrogate escape becomes U+FFFD, as Go's decoder makes it. The e2e test
``test_neo_filter_conformance.py`` checks these bytes against neo-go's own oracle service.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from neo_service_layer.enclave import neo_jsonpath
from neo_service_layer.enclave.wire.native_oracle import MAX_RESULT_BYTES, NeoResponseCode

#: escapes neo-go writes as two characters; any other character ``_UNSAFE`` matches gets ``_escape``'s
#: four-digit form (``<`` -> ``\\u003C``)
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}
#: written as they are: printable ASCII except ``"``, ``&``, ``'``, ``+``, ``<``, ``>``, backtick, backslash
_UNSAFE = re.compile("[^ !#-%(-*,-;=?-\\[\\]-_a-~]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHORT_NEGATIVE_EXPONENT = re.compile(r"e-0(\d)$")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    units = char.encode("utf-16-be")  # a character beyond the BMP is two escaped UTF-16 units
    return "".join(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float64(text: str) -> float:
    """A JSON number as Go decodes it into ``interface{}``: a float64, an error when out of range."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of float64 range")
    return value


def _go_number(value: float) -> str:
    """``value`` as Go's ``encoding/json`` writes a float64 (ES6 number formatting)."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # Python's repr is the shortest round-trip form, in exponent form over this whole range with at
        # least two exponent digits, like Go's 'e' format; Go then shortens e-07 to e-7
        return _SHORT_NEGATIVE_EXPONENT.sub(r"e-\1", repr(value))
    return format(Decimal(repr(value)).normalize(), "f")


def _neo_string(value: str) -> str:
    return '"' + _UNSAFE.sub(_escape, _SURROGATE.sub("\ufffd", value)) + '"'


def _dump(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(float(value))
    if isinstance(value, str):
        return _neo_string(value)
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_neo_string(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def neo_filter(body: bytes, filter_: str | None) -> tuple[NeoResponseCode, bytes]:
    """(code, result) of Neo's filter over a successfully fetched ``body``."""
    if not filter_:
        if len(body) > MAX_RESULT_BYTES:
            return NeoResponseCode.RESPONSE_TOO_LARGE, b""
        return NeoResponseCode.SUCCESS, body
    try:
        document = json.loads(
            body.decode(), parse_float=_float64, parse_int=_float64, parse_constant=_no_constant
        )
        matches = neo_jsonpath.select(filter_, document)
        if matches is None:
            return NeoResponseCode.ERROR, b""  # what the other oracle nodes answer to this filter
        result = _dump(matches).encode()
    except (ValueError, RecursionError):
        return NeoResponseCode.ERROR, b""
    if len(result) > MAX_RESULT_BYTES:
        return NeoResponseCode.RESPONSE_TOO_LARGE, b""
    return NeoResponseCode.SUCCESS, result
