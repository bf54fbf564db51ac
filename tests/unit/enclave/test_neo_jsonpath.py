"""Neo's oracle JSONPath as neo-go evaluates it (``enclave.neo_jsonpath``): its forms, its semantics where
RFC 9535 differs (recursive descent spends levels, slices ending at 0 run to the end) and its limits of
6 levels and 1,024 values a step. The expected values are what neo-go's ``jsonpath.Get`` returns for
the same documents and paths."""

from __future__ import annotations

import json

import pytest

from neo_service_layer.enclave.neo_jsonpath import MAX_OBJECTS, select

NESTED = {
    "store": {"name": "big", "sub": [{"name": "sub1"}, {"name": "sub2"}], "partner": {"name": "ppp"}},
    "another": {"name": "small"},
}
BOOKS = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "price": 12.99},
            {"category": "fiction", "author": "Herman Melville", "isbn": "0-553-21311-3", "price": 8.99},
            {"category": "fiction", "author": "J. R. R. Tolkien", "isbn": "0-395-19395-8", "price": None},
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
    "data": None,
}


def authors(*indices: int) -> list[object]:
    return [BOOKS["store"]["book"][i] for i in indices]  # type: ignore[index]


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        (NESTED, "$.store.name", ["big"]),
        (NESTED, "$['store']['name']", ["big"]),
        (NESTED, "$[*].name", ["big", "small"]),
        (NESTED, "$.*.name", ["big", "small"]),
        (NESTED, "$..store.name", ["big"]),
        (NESTED, "$.store..name", ["big", "ppp", "sub1", "sub2"]),  # layer by layer, not document order
        (NESTED, "$..sub.name", []),
        (NESTED, "$..sub..name", ["sub1", "sub2"]),
        (BOOKS, "$..author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
        (BOOKS, "$.store..price", [19.95, 8.95, 12.99, 8.99, None]),
        (BOOKS, "$..book[2]", authors(2)),
        (BOOKS, "$..book[-2]", authors(2)),
        (BOOKS, "$..book[0,1]", authors(0, 1)),
        (BOOKS, "$..book[:2]", authors(0, 1)),
        (BOOKS, "$..book[1:2]", authors(1)),
        (BOOKS, "$..book[-2:]", authors(2, 3)),
        (BOOKS, "$..book[2:]", authors(2, 3)),
        (BOOKS, "$..invalidfield", []),
        (BOOKS, "$.store.book[1:0]", authors(1, 2, 3)),  # an end of 0 counts from the end
        (["a", {"x": 1, "y": 2, "z": 3}, "c", "d"], "$[0,2]", ["a", "c"]),
        (["a", {"x": 1, "y": 2, "z": 3}, "c", "d"], "$[1]['x','z']", [1, 3]),
        ({"a b": {"c": 5}}, "$['a b'].c", [5]),
        ({"é": 1}, "$['\\u00e9']", [1]),  # a quoted name is read as a JSON string
        ({"a": 1}, "$", [{"a": 1}]),
        ({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}, "$.a.b.c.d.e.f", [{"g": 1}]),
        ({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}, "$.*.*.*.*.*.*", [{"g": 1}]),
    ],
)
def test_paths_select_what_neo_go_selects(document: object, path: str, expected: list[object]) -> None:
    assert select(path, document) == expected


@pytest.mark.parametrize(
    "path",
    [
        ".",
        "$1",
        "&",
        "$&",
        "$.&",
        "$.[0]",
        "$..",
        "$..*",
        "$..&",
        "$..1",
        "$[&]",
        "$[**]",
        "$[1&]",
        "$[2147483648]",
        "$[2147483648:]",
        "$[:2147483648]",
        "$[1,2147483648]",
        "$['a'&]",
        "$['a'1]",
        "$['a",
        "$['\\u123']",
        "$['s','\\u123']",
        "$[[]]",
        "$[1,'a']",
        "$[1,1&",
        "$[1:&]",
        "$[1:[]]",
        "$[",
        "$.a[?(@.b)]",
        '$["a"]',
        "$ .a",
    ],
)
def test_paths_neo_go_refuses_are_refused(path: str) -> None:
    assert select(path, {}) is None


def test_more_than_six_levels_are_refused() -> None:
    document = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    assert select("$.a.b.c.d.e.f.g", document) is None
    assert select("$.*.*.*.*.*.*.*", document) is None
    # a recursive descent spends a level per layer it searches: nothing is left for [0] here
    deep = {"m": [{"p": [{"n": "x"}]}]}
    assert select("$..m[0]", deep) is None
    assert select("$..m", deep) == [[{"p": [{"n": "x"}]}]]


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("$" + "[0,0,0,0,0,0,0,0,0,0]" * 4, "[[[[{}]]]]"),
        ("$" + "[0,0,0,0,0,0,0,0,0,0]" * 3 + ".*", "[[[[{},{}]]]]"),
        ("$" + "[0,0,0,0,0,0,0,0,0,0]" * 3 + "[0:2]", "[[[[{},{}]]]]"),
        ("$" + "[0,0,0,0,0,0,0,0,0,0]" * 3 + "..a", '[[[{"a":{"a":{}}}]]]'),
        ("$" + "[0,0,0,0,0,0,0,0,0,0]" * 3 + "['x','y']", '[[[{"x":{},"y":{}}]]]'),
        ("$" + "['a','a','a','a','a','a','a','a','a','a']" * 3 + ".*", '{"a":{"a":{"a":{"x":{},"y":{}}}}}'),
    ],
)
def test_a_step_holding_more_than_1024_values_is_refused(path: str, document: str) -> None:
    assert select(path, json.loads(document)) is None


def test_1024_values_are_allowed() -> None:
    assert select("$[*]", list(range(MAX_OBJECTS))) == list(range(MAX_OBJECTS))
    assert select("$[*]", list(range(MAX_OBJECTS + 1))) is None
