"""Kill anything, lose nothing (small, seeded): 60 on-chain requests, randomness and our oracle, while the
worker, the enclave and the neo-go node are killed with SIGKILL and brought back (``chaos.py``)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.e2e.chain.chaos import KILL_WINDOW, TARGETS, Chaos, plan
from tests.e2e.chain.oracle_support import web_server
from tests.e2e.chain.stack import Stack, close_stack, open_stack

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SEED = 19
REQUESTS = 60
KILLS = 5


@pytest.fixture
async def chaos_stack(contracts_built: None) -> AsyncIterator[Stack]:
    opened = await open_stack(oracle_allow_hosts="127.0.0.1", oracle_allow_http="true")
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


def test_the_plan_is_seeded_and_kills_every_target_while_requests_flow() -> None:
    kills = plan(SEED, REQUESTS, KILLS)
    assert kills == plan(SEED, REQUESTS, KILLS)
    assert kills != plan(SEED + 1, REQUESTS, KILLS)
    assert {k.target for k in kills} == set(TARGETS)
    assert all(REQUESTS // 10 <= k.after_request < REQUESTS - KILL_WINDOW for k in kills)


async def test_every_request_is_answered_exactly_once_through_kills(chaos_stack: Stack) -> None:
    with web_server() as web:
        report = await Chaos(chaos_stack, web, SEED).run(REQUESTS, plan(SEED, REQUESTS, KILLS))
    verdict = report.verdict
    print(f"\nchaos: {report}")
    assert len(report.kills) == KILLS
    for killed in report.kills:
        assert killed.in_flight, killed  # each kill interrupted work: its recovery is what was checked
        assert killed.requests_pending + killed.outbox_pending > 0, killed
        assert killed.rewritten == 0, killed  # the node was killed with every block it made on disk
    # every request on chain answered exactly once, whatever the driver sent twice while the node was down
    assert report.sent == REQUESTS + report.extra
    assert verdict.requests >= REQUESTS
    assert (verdict.unanswered, verdict.doubled) == ([], [])
    assert verdict.exactly_once == verdict.requests
    # recorded as delivered; nothing left in another state without a reason
    assert (verdict.not_recorded, verdict.no_reason) == ([], [])
    assert set(verdict.statuses) == {"delivered"}
    # every outage was waited out quietly (a warning per interval), never a traceback per poll
    assert report.worker_errors == {}
    # no duplicate send: an included outbox transaction is on chain and HALTed, any other never made it
    assert verdict.outbox_wrong == []
    assert verdict.outbox["included"] >= 1
