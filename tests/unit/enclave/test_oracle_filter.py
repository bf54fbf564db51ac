"""JSONPath filter semantics of oracle results (docs/oracle.md, "Filters and results")."""

from __future__ import annotations

import json

import pytest

from neo_service_layer.enclave.oracle_filter import apply_filter, media_type
from neo_service_layer.enclave.wire.oracle import MAX_RESULT_BYTES, ResultCode

JSON = "application/json"
DOC = json.dumps(
    {
        "pair": "NEO/USD",
        "price": 12.3450,
        "bid": 12.34,
        "ask": 12.35,
        "sources": [{"name": "a", "p": 1.50}, {"name": "b", "p": 0.5}, {"name": "c", "p": 2}],
        "meta": {"z": 1, "a": [True, None, "ü"]},
    }
).encode()


def run(
    filter_: str, body: bytes = DOC, content_type: str | None = JSON, limit: int = MAX_RESULT_BYTES
) -> tuple[ResultCode, bytes]:
    filtered = apply_filter(body, content_type, filter_, limit)
    return filtered.code, filtered.result


def test_single_match_is_the_node_itself() -> None:
    assert run("$.pair") == (ResultCode.SUCCESS, b'"NEO/USD"')
    assert run("$.bid") == (ResultCode.SUCCESS, b"12.34")
    assert run("$.sources[0]") == (ResultCode.SUCCESS, b'{"name":"a","p":1.5}')


def test_numbers_keep_their_text_and_keys_are_sorted() -> None:
    body = b'{"price": 1.50, "tiny": 1e-7, "big": 123456789012345678901234567890, "o": {"b": 1, "a": 2.0}}'
    assert run("$.price", body) == (ResultCode.SUCCESS, b"1.50")
    assert run("$.tiny", body) == (ResultCode.SUCCESS, b"1e-7")
    assert run("$.big", body) == (ResultCode.SUCCESS, b"123456789012345678901234567890")
    assert run("$.o", body) == (ResultCode.SUCCESS, b'{"a":2.0,"b":1}')


def test_non_ascii_is_utf8() -> None:
    assert run("$.meta.a") == (ResultCode.SUCCESS, '[true,null,"ü"]'.encode())


def test_several_matches_give_the_array_of_all_of_them() -> None:
    assert run("$.sources[*].name") == (ResultCode.SUCCESS, b'["a","b","c"]')
    assert run("$.sources[?@.p > 1].name") == (ResultCode.SUCCESS, b'["a","c"]')
    assert run("$['bid','ask']") == (ResultCode.SUCCESS, b"[12.34,12.35]")


def test_filters_compare_numbers_numerically() -> None:
    assert run("$.sources[?@.p == 1.5].name") == (ResultCode.SUCCESS, b'"a"')


def test_no_match_is_not_found() -> None:
    assert run("$.nothing")[0] is ResultCode.NOT_FOUND
    assert run("$.sources[?@.p > 100]")[0] is ResultCode.NOT_FOUND


@pytest.mark.parametrize("bad", ["$.a[", "price", "$..", "$[?@.p >]", "$.a.length()"])
def test_bad_filter_syntax(bad: str) -> None:
    assert run(bad)[0] is ResultCode.BAD_FILTER


def test_no_filter_returns_the_body() -> None:
    assert run("", b'{"a": 1}') == (ResultCode.SUCCESS, b'{"a": 1}')
    assert run("", b"hello", "text/plain; charset=utf-8") == (ResultCode.SUCCESS, b"hello")


def test_text_is_reencoded_from_its_charset() -> None:
    assert run("", "café".encode("latin-1"), "text/plain; charset=ISO-8859-1") == (
        ResultCode.SUCCESS,
        "café".encode(),
    )
    assert run("", b"\xff\xfe", "text/plain")[0] is ResultCode.UPSTREAM_ERROR
    assert run("", b"x", "text/plain; charset=no-such-charset")[0] is ResultCode.UPSTREAM_ERROR


def test_a_filter_on_text_is_a_bad_filter() -> None:
    assert run("$.a", b"a=1", "text/plain")[0] is ResultCode.BAD_FILTER


@pytest.mark.parametrize(
    "content_type", [None, "", "application/octet-stream", "image/png", "application/xml"]
)
def test_other_content_types_are_unsupported(content_type: str | None) -> None:
    assert run("", b"{}", content_type)[0] is ResultCode.UNSUPPORTED_CONTENT_TYPE


def test_json_variants() -> None:
    assert run("$.a", b'{"a": 1}', "application/vnd.api+json")[0] is ResultCode.SUCCESS
    assert run("$.a", b'\xef\xbb\xbf{"a": 1}', "Application/JSON; charset=utf-8")[0] is ResultCode.SUCCESS


@pytest.mark.parametrize("body", [b"{", b"{'a': 1}", b'{"a": NaN}', b'{"a": Infinity}', b"[" * 100000])
def test_malformed_json_is_an_upstream_error(body: bytes) -> None:
    assert run("$.a", body)[0] is ResultCode.UPSTREAM_ERROR


def test_result_limit_applies_after_filtering() -> None:
    body = json.dumps({"small": "x", "big": "y" * 1000}).encode()
    assert run("$.small", body, limit=10) == (ResultCode.SUCCESS, b'"x"')
    assert run("$.big", body, limit=10)[0] is ResultCode.TOO_LARGE
    assert run("", body, limit=10)[0] is ResultCode.TOO_LARGE


def test_media_type_parsing() -> None:
    assert media_type('Text/HTML; Charset="UTF-8"') == ("text/html", "UTF-8")
    assert media_type(None) == ("", None)
