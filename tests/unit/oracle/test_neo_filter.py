"""Neo's oracle filter (``adapters.fetch.neo_filter``): the exact result bytes an oracle node answers.

No filter: the body as fetched. A filter: the body parsed as JSON and the compact JSON array of every
match (neo-go ``pkg/services/oracle/filter.go``, C# ``OracleService.Filter``). The first table replays
neo-go's own filter test vectors on the same document.
"""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.neo_filter import neo_filter
from neo_service_layer.services.native_oracle.rules import MAX_RESULT_BYTES, NeoResponseCode

SUCCESS, ERROR, TOO_LARGE = NeoResponseCode.SUCCESS, NeoResponseCode.ERROR, NeoResponseCode.RESPONSE_TOO_LARGE

#: the document of neo-go's ``TestFilter`` (tabs and all)
STORE = b"""{
  \t"Stores": [ "Lambton Quay",\t"Willis Street" ],
  \t"Manufacturers": [
\t\t{
\t\t\t"Name": "Acme Co",
\t\t\t"Products": [
\t\t        { "Name": "Anvil", "Price": 50 }
      \t\t]
    \t},
    \t{
      \t\t"Name": "Contoso",
      \t\t"Products": [
        \t\t{ "Name": "Elbow Grease", "Price": 99.95 },
        \t\t{ "Name": "Headlight Fluid", "Price": 4 }
      \t\t]
    \t}
  \t]
}"""


@pytest.mark.parametrize(
    ("path", "result"),
    [
        # neo-go's vectors
        ("$.Name", b"[]"),
        ("$.Manufacturers[0].Name", b'["Acme Co"]'),
        ("$.Manufacturers[0].Products[0].Price", b"[50]"),
        ("$.Manufacturers[1].Products[0].Name", b'["Elbow Grease"]'),
        ("$.Manufacturers[1].Products[0]", b'[{"Name":"Elbow Grease","Price":99.95}]'),
        # more selectors: every match, in order, one array
        ("$.Stores[*]", b'["Lambton Quay","Willis Street"]'),
        ("$.Stores", b'[["Lambton Quay","Willis Street"]]'),
        ("$['Stores'][-1]", b'["Willis Street"]'),
        ("$.Stores[0:1]", b'["Lambton Quay"]'),
        ("$..Price", b"[50,99.95,4]"),
        ("$.Stores[0,1]", b'["Lambton Quay","Willis Street"]'),
        (
            "$.Manufacturers[0]",
            b'[{"Name":"Acme Co","Products":[{"Name":"Anvil","Price":50}]}]',  # keys in document order
        ),
    ],
)
def test_matches_as_one_compact_json_array(path: str, result: bytes) -> None:
    assert neo_filter(STORE, path) == (SUCCESS, result)


@pytest.mark.parametrize(
    ("body", "path", "result"),
    [
        (b'{"value": "hello world"}', "$.value", b'["hello world"]'),  # Neo's documented example
        (b'"text"', "$", b'["text"]'),
        (b"3", "$", b"[3]"),
        (b"null", "$", b"[null]"),
        (b"  [1 , 2]  ", "$[*]", b"[1,2]"),
        (b'{"z": 1, "a": {"y": true, "b": false}}', "$", b'[{"z":1,"a":{"y":true,"b":false}}]'),
        # numbers go through float64 and are written as Go's encoding/json writes them (as neo-go does)
        (
            b'{"p": [1.50, 1E5, -0.0, 0.0000015, 1e-7, 10000000000000000000001, 1e21, 123456789012345678]}',
            "$.p[*]",
            b"[1.5,100000,-0,0.0000015,1e-7,1e+22,1e+21,123456789012345680]",
        ),
        (b'{"p": [42.17, 0, 100.0, 1.5e300, -2.5E-8]}', "$.p[*]", b"[42.17,0,100,1.5e+300,-2.5e-8]"),
        (b'{"p": [1.0, 2, 0.10]}', "$.p[0,2]", b"[1,0.1]"),  # written as float64
        # strings: ASCII out, escaped as neo-go escapes them (measured against neo-go's oracle service in
        # tests/e2e/chain/test_neo_filter_conformance.py)
        (b'{"a": "\\u00e9\\n\\"/\\t"}', "$.a", b'["\\u00E9\\n\\u0022/\\t"]'),
        (b'{"a": "\\ud83d\\ude00 \xe2\x82\xac"}', "$.a", b'["\\uD83D\\uDE00 \\u20AC"]'),
        (b'{"a": "\\u0000\\u007f"}', "$.a", b'["\\u0000\\u007F"]'),
        (
            b'{"a": "<b>&</b> it\'s 1+1 `x`"}',
            "$.a",
            b'["\\u003Cb\\u003E\\u0026\\u003C/b\\u003E it\\u0027s 1\\u002B1 \\u0060x\\u0060"]',
        ),
        (b'{"a": "\\b\\f\\r\\\\\\u001f\\u2028"}', "$.a", b'["\\b\\f\\r\\\\\\u001F\\u2028"]'),
        (b'{"a": "x\\ud800y"}', "$.a", b'["x\\uFFFDy"]'),  # a lone surrogate: U+FFFD, as Go decodes it
        (b'{"<k>": 1}', "$", b'[{"\\u003Ck\\u003E":1}]'),
        (b'{"a": " !#$%()*,-./09:;=?@AZ[]^_az{|}~"}', "$.a", b'[" !#$%()*,-./09:;=?@AZ[]^_az{|}~"]'),
        (b'{"a": 1, "a": 2}', "$.a", b"[2]"),  # a repeated key: the last one
        (b"[]", "$[0]", b"[]"),
    ],
)
def test_filter_results(body: bytes, path: str, result: bytes) -> None:
    assert neo_filter(body, path) == (SUCCESS, result)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"{",
        b'{"a": 1}{"b": 2}',  # two documents
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"\xff\xfe",  # not UTF-8 (neo-go checks this first)
        b'{"a": "\xc3"}',
        b"[1e400]",  # beyond float64: Go's decoder refuses it
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser goes
    ],
    ids=lambda b: repr(b[:24]),
)
def test_a_body_that_is_not_json_is_error(body: bytes) -> None:
    assert neo_filter(body, "$") == (ERROR, b"")


@pytest.mark.parametrize(
    "path",
    [
        "Manufacturers[0].Name",
        "$.Stores[",
        "$[?@.Price >]",
        "$.Manufacturers[*].Products.length()",
        "$..",
        "@",
        # neo-go's limit of 6 levels: the recursive descent spends one per layer it searches (5 here),
        # [0] the sixth, and .Name would be the seventh
        "$..Manufacturers[0].Name",
        "$.Manufacturers[0].Products[0].Name.x.y.z",
    ],
)
def test_a_filter_that_does_not_parse_is_error(path: str) -> None:
    assert neo_filter(STORE, path) == (ERROR, b"")


@pytest.mark.parametrize(
    "path",
    [
        "$..Products[?@.Price > 50]",
        "$.Manufacturers[?(@.Name == 'Contoso')].Products",
        "$.Manufacturers[?@.Name == 'Contoso'].Products[?@.Price < 10].Name",
        '$["Stores"]',
        "$.Stores[ 0 ]",
        "$.Manufacturers[?length(@.Products) > 1]",
    ],
)
def test_rfc9535_forms_outside_neo_s_jsonpath_are_error_as_on_other_oracle_nodes(path: str) -> None:
    """RFC 9535 evaluates these; neo-go and C# nodes answer ``Error``, and so does this node."""
    assert neo_filter(STORE, path) == (ERROR, b"")


@pytest.mark.parametrize("filter_", [None, ""])
def test_without_a_filter_the_body_is_the_result_untouched(filter_: str | None) -> None:
    for body in (STORE, b"  not json at all \xff", b""):
        assert neo_filter(body, filter_) == (SUCCESS, body)


def test_the_limit_without_a_filter() -> None:
    assert neo_filter(b"x" * MAX_RESULT_BYTES, None) == (SUCCESS, b"x" * MAX_RESULT_BYTES)
    assert neo_filter(b"x" * (MAX_RESULT_BYTES + 1), None) == (TOO_LARGE, b"")
    assert neo_filter(b"x" * (MAX_RESULT_BYTES + 1), "") == (TOO_LARGE, b"")


def test_the_limit_applies_to_the_filtered_result_not_the_body() -> None:
    assert MAX_RESULT_BYTES == 65_535
    fits = "a" * (MAX_RESULT_BYTES - 4)  # ["..."] adds four bytes
    body = b'{"big": "%s", "pad": "%s"}' % (fits.encode(), b"p" * 100_000)
    code, result = neo_filter(body, "$.big")
    assert (code, len(result)) == (SUCCESS, MAX_RESULT_BYTES)
    assert result == b'["' + fits.encode() + b'"]'
    assert neo_filter(b'{"big": "%s"}' % (fits + "a").encode(), "$.big") == (TOO_LARGE, b"")
    assert neo_filter(body, "$.pad") == (TOO_LARGE, b"")
    two_bytes = "\u00e9" * ((MAX_RESULT_BYTES - 3) // 2)  # the limit counts UTF-8 bytes
    assert neo_filter(b'{"e": "%s"}' % two_bytes.encode(), "$.e") == (TOO_LARGE, b"")
