"""Price feeds end to end: three loopback exchanges the test controls, configured in ``NSL_FEEDS`` (so
``nsl chain up``'s provisioning sets their sources digest in the feed contract), each round fetched,
aggregated and signed by the enclave's ``feed_round`` and accepted by the feed contract on the privnet."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from neo3.core import types
from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.parts import open_chain
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.sealed_records import sealed_record_loader
from neo_service_layer.kernel.health.ports import ReadinessCheck
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.feeds.use_cases import FeedRunner, RoundReport, recent_rounds
from neo_service_layer.services.oracle.api import load_oracle_key
from tests.e2e.chain.oracle_support import WebServer, web_server
from tests.e2e.chain.stack import Stack, call, close_stack, open_stack, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

PAIR = "NEO/USD"


class ShiftedClock:
    """The system clock moved forward by ``offset`` (to expire the heartbeat without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._system = SystemClock()

    def now(self) -> datetime:
        return self._system.now() + self.offset


def feed_config(web: WebServer) -> dict[str, object]:
    return {
        "pair": PAIR,
        "description": "NEO / US dollar",
        "decimals": 8,
        "deviation": "0.01",
        "heartbeat_seconds": 30,
        "quorum": 2,
        "sources": [
            {"name": "a", "url": web.url("/a"), "path": "$.price"},
            {"name": "b", "url": web.url("/b"), "path": "$.data.last"},
            {"name": "c", "url": web.url("/c"), "path": "$.result[0].p"},
        ],
    }


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


@pytest.fixture
async def fstack(contracts_built: None, web: WebServer) -> AsyncIterator[Stack]:
    opened = await open_stack(
        oracle_allow_hosts="127.0.0.1", oracle_allow_http="true", feeds=json.dumps([feed_config(web)])
    )
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


def exchanges(web: WebServer, a: object, b: object, c: object) -> None:
    """Each exchange answers its own JSON shape; ``None`` makes it fail (HTTP 500)."""
    for path, value, body in (
        ("/a", a, {"price": a}),
        ("/b", b, {"data": {"last": b}}),
        ("/c", c, {"result": [{"p": c}]}),
    ):
        web.set(path, body if value is not None else {"error": "down"}, 200 if value is not None else 500)


async def test_rounds_publish_on_deviation_and_heartbeat_and_survive_bad_sources(
    fstack: Stack, web: WebServer
) -> None:
    stack = fstack
    clock = ShiftedClock()
    engine = stack.engine
    client = EnclaveClient.from_settings(stack.settings, loader=sealed_record_loader(engine))
    registry = CollectorRegistry()
    readiness: dict[str, ReadinessCheck] = {}
    feed = FeedDefinition.from_dict(feed_config(web))
    try:
        async with open_chain(stack.settings, engine, lambda: client, clock, registry, readiness) as parts:
            assert parts is not None
            oracle_key = await load_oracle_key(SqlRoleKeyStore(engine))
            feed_contract = parts.contract("feed")
            assert oracle_key is not None
            assert feed_contract is not None
            metrics = ChainMetrics(CollectorRegistry())
            runner = FeedRunner(
                parts.chain,
                lambda: client,
                oracle_key,
                clock,
                metrics,
                contract=feed_contract,
                feeds=[feed],
            )

            async def round_(expected: str) -> RoundReport:
                report = await runner.run_round(feed)
                assert report.outcome == expected, report
                if expected.startswith("published"):
                    assert report.round_id is not None
                    target = report.round_id

                    async def included() -> bool:
                        return (await runner.latest(PAIR)).round_id == target

                    await wait_for(included, 10, f"round {target} on chain")
                return report

            exchanges(web, "100.0", 100.2, "99.8")  # strings and numbers: both parse
            await round_("published_first")
            assert (await runner.latest(PAIR)).answer == 100_00000000
            await round_("unchanged")

            exchanges(web, 103, 103.1, 102.9)  # +3 %: beyond the 1 % deviation
            await round_("published_deviation")
            assert (await runner.latest(PAIR)).answer == 103_00000000

            clock.offset = timedelta(seconds=40)  # the 30 s heartbeat expired
            await round_("published_heartbeat")
            clock.offset = timedelta()
            recent = await recent_rounds(parts.chain, feed_contract, PAIR, 10)  # what the console charts
            assert [r.answer for r in recent] == [103_00000000, 103_00000000, 100_00000000]
            ids = [r.round_id for r in recent]
            assert ids == list(range(ids[0], ids[0] - 3, -1))

            exchanges(web, 103, 103, None)  # one exchange down: quorum of 2 still met
            down = await round_("unchanged")
            assert down.round is not None
            assert down.round.missing == ("c",)

            exchanges(web, 103, 150, 103.2)  # one exchange lies: rejected as an outlier
            lying = await round_("unchanged")
            assert lying.round is not None
            assert lying.round.outliers == ("b",)
            assert lying.round.answer == Decimal("103.1")

            exchanges(web, 103, None, None)  # quorum lost: nothing is written
            before = await runner.latest(PAIR)
            await round_("quorum_lost")
            assert await runner.latest(PAIR) == before
            assert before.round_id == 3
            quorum_lost = metrics.feed_rounds.labels(PAIR, "quorum_lost")._value.get()
            assert quorum_lost == 1

            feed_hash = uint160(feed_contract)
            await _consumer_checks(stack, feed_hash)
    finally:
        await client.close()


async def _consumer_checks(stack: Stack, feed_hash: types.UInt160) -> None:
    nef, manifest = artifact("feed_consumer")
    consumer = await deploy.deploy_contract(stack.committee, nef, manifest, feed_hash)
    fresh = await stack.committee.test(call(consumer, "price", PAIR, 600_000))
    assert fresh.result.state == "HALT", fresh.result.exception
    assert fresh.result.stack[0].as_int() == 103_00000000
    stale = await stack.committee.test(call(consumer, "price", PAIR, 0))
    assert stale.result.state == "FAULT"
    assert "stale price" in (stale.result.exception or "")
    unknown = await stack.committee.test(call(consumer, "price", "GAS/USD", 600_000))
    assert "no price yet" in (unknown.result.exception or "")
    decimals = await stack.read(feed_hash, "decimals", PAIR)
    assert decimals.as_int() == 8
    assert (await stack.read(feed_hash, "description", PAIR)).as_str() == "NEO / US dollar"
    first = await stack.read(feed_hash, "getRoundData", PAIR, 1)
    assert first.value[1].as_int() == 100_00000000
