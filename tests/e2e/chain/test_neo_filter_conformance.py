"""Our node's results are neo-go's, byte for byte: each body and filter below is answered by neo-go's own
oracle service on a local chain (nothing of ours runs), and the ``(code, result)`` its callback received
must equal ``neo_filter``'s for the same body and filter. A dApp moving between oracle nodes reads the
same bytes; the cases cover number formatting, string escapes, key order, the JSONPath forms dApps use,
no filter, no match, and bodies or filters that do not parse."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from neo_service_layer.enclave.neo_filter import neo_filter
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.native_oracle.rules import NeoResponseCode
from tests.e2e.chain.neogo_oracle import NeoGoOracle, neo_go_oracle
from tests.e2e.chain.stack import call
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CASES: list[tuple[bytes, str]] = [
    (b'{"price": 42.17, "volume": 3}', "$.price"),
    (b'{"p": [1.50, 1E5, -0.0, 0.0000015, 1e-7, 10000000000000000000001, 1e21]}', "$.p[*]"),
    (b'{"p": [123456789012345678, 100.0, 1.5e300, -2.5E-8, 0]}', "$.p"),
    (b'{"a": "<b>&</b> \\u00e9 \\u2028 \\n\\t\\"\\\\ \\u0001 \xe2\x82\xac"}', "$.a"),
    (json.dumps({"a": "".join(map(chr, range(1, 128))) + "\u00e9\U0001f600\ufeff"}).encode(), "$.a"),
    (b'{"k\\"<": "x\\ud800y"}', "$"),
    (b'{"z": 1, "a": {"y": true, "b": null, "x": [1, "2"]}}', "$"),
    (b'{"a": {"price": 1}, "b": [{"price": 2}, {"price": 3}]}', "$..price"),
    (b'{"data": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]}', "$.data[1].v"),
    (b'{"data": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]}', "$.data[*].id"),
    (b'{"a b": {"c": 5}}', "$['a b'].c"),
    (b'{"a": 1}', "$.missing"),
    (b'{"data": [1, 2, 3, 4]}', "$.data[1:3]"),
    (b'{"data": [1, 2, 3, 4]}', "$.data[0,2]"),
    (b'{"data": [1, 2, 3, 4]}', "$.data[-1]"),
    (b'{"a": [{"b": 1}, {"b": 2}]}', "$..b"),
    (b'{"a": {"b": 1}}', "$.a[?(@.b)]"),  # filter expressions: RFC 9535 has them, Neo's JSONPath not
    (b'{"a": 1}', '$["a"]'),
    (b'{"a": 1}', "$ .a"),
    (b'{"x": 1.50, "y": "<"}', ""),
    (b"not json", "$.a"),
    (b'{"a": 1}', "$.a["),
    # neo-go's limits: 6 levels (a recursive descent spends one per layer it searches), 1,024 values
    (b'{"m": [{"n": "x", "p": [{"n": "y"}]}]}', "$..m[0].n"),
    (b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}', "$.a.b.c.d.e.f"),
    (b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}', "$.a.b.c.d.e.f.g"),
    (json.dumps(list(range(1025))).encode(), "$[*]"),
    (b'{"store": {"name": "big", "sub": [{"name": "s1"}], "partner": {"name": "p"}}}', "$.store..name"),
    (b'{"data": [1, 2, 3, 4]}', "$.data[1:0]"),
]


async def answered(node: NeoGoOracle, count: int, timeout: float = 20) -> tuple[int, bytes]:
    """(code, result) of the consumer's callback once it has been called ``count`` times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await node.committee.test(call(node.consumer, "answers"))).result.stack[0].as_int() >= count:
            code = (await node.committee.test(call(node.consumer, "lastCode"))).result.stack[0].as_int()
            item = (await node.committee.test(call(node.consumer, "lastResult"))).result.stack[0]
            return code, bytes(item.value) if item.value is not None else b""
        await asyncio.sleep(0.05)
    raise AssertionError(f"neo-go's oracle service did not call back the {count}th time")


async def test_neo_go_answers_every_case_with_the_bytes_our_filter_gives(
    contracts_built: None, certificates: LoopbackCertificates
) -> None:
    mismatches = []
    with https_server(certificates) as web:
        for index, (body, _) in enumerate(CASES):
            web.routes[f"/case/{index}"] = body
        async with neo_go_oracle(certificates, 0.1) as node:
            for index, (body, filter_) in enumerate(CASES):
                url = web.url(f"/case/{index}")
                await node.committee.invoke(call(node.consumer, "request", url, filter_, index, deploy.GAS))
                code, result = await answered(node, index + 1)
                ours = neo_filter(body, filter_ or None)
                if (NeoResponseCode(code), result) != ours:
                    mismatches.append((body, filter_, (hex(code), result), (hex(ours[0]), ours[1])))
    assert not mismatches, "\n".join(
        f"{body!r} {filter_!r}: neo-go {theirs}, ours {mine}" for body, filter_, theirs, mine in mismatches
    )
