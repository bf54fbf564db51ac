"""Kill anything, lose nothing (small, seeded): 60 on-chain requests (dice rolls, our oracle, Neo's native
Oracle answered by our node, and pings an automation upkeep performs) while the worker, the enclave, the
neo-go node and the API (``nsl serve``, called all along by a client that also writes secrets and
templates) are killed with SIGKILL and brought back (``chaos.py``, ``chaos_api.py``, ``chaos_writes.py``,
``chaos_automation.py``, ``chaos_native.py``)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.e2e.chain.chaos import KILL_WINDOW, TARGETS, Chaos, Report, plan
from tests.e2e.chain.chaos_api import ApiClient, api_key
from tests.e2e.chain.chaos_automation import AutomationMix
from tests.e2e.chain.chaos_native import NativeMix
from tests.e2e.chain.oracle_support import web_server
from tests.e2e.chain.stack import Stack, close_stack, open_stack
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SEED = 19
REQUESTS = 60
KILLS = 5
WITH_API = (*TARGETS, "api")


@pytest.fixture
async def chaos_stack(contracts_built: None, certificates: LoopbackCertificates) -> AsyncIterator[Stack]:
    opened = await open_stack(
        oracle_allow_hosts="127.0.0.1", oracle_allow_http="true", oracle_ca_file=str(certificates.ca_file)
    )
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


def test_the_plan_is_seeded_and_kills_every_target_while_requests_flow() -> None:
    kills = plan(SEED, REQUESTS, KILLS, WITH_API)
    assert kills == plan(SEED, REQUESTS, KILLS, WITH_API)
    assert kills != plan(SEED + 1, REQUESTS, KILLS, WITH_API)
    assert {k.target for k in kills} == set(WITH_API)
    assert all(REQUESTS // 10 <= k.after_request < REQUESTS - KILL_WINDOW for k in kills)


async def test_every_request_is_answered_exactly_once_through_kills(
    chaos_stack: Stack, certificates: LoopbackCertificates
) -> None:
    api = ApiClient(chaos_stack, await api_key(chaos_stack))
    try:
        with web_server() as web, https_server(certificates) as tls:
            automation, native = AutomationMix(chaos_stack), NativeMix(chaos_stack, tls)
            chaos = Chaos(chaos_stack, web, SEED, api=api, automation=automation, native=native)
            report = await chaos.run(REQUESTS, plan(SEED, REQUESTS, KILLS, WITH_API))
    finally:
        api.stop()
    print(f"\nchaos: {report}")
    assert len(report.kills) == KILLS
    for killed in report.kills:
        # each kill interrupted work (for the API: a client's call): its recovery is what was checked
        assert killed.in_flight, killed
        if killed.target != "api":
            assert killed.requests_pending + killed.outbox_pending > 0, killed
        assert killed.rewritten == 0, killed  # the node was killed with every block it made on disk
    assert_api_recovered(report)
    assert_lost_nothing(report)


def assert_api_recovered(report: Report) -> None:
    """The API never answered 500, answered again after each restart, and its answers hold."""
    api = report.api
    assert api is not None
    assert api.restarts == sum(k.target == "api" for k in report.kills) >= 1
    assert api.answered_after_restart == api.restarts  # clients were answered again after each restart
    assert api.cut >= api.restarts  # the call in flight at each kill got no answer (a closed connection)
    assert api.unexpected == []  # never a 500: a dependency down is a 503
    assert api.statuses[200] > 0
    assert api.offchain_answers > 0
    assert api.offchain_invalid == []  # every off-chain answer given verifies: none was half made
    assert api.state_wrong == []  # the API shows every on-chain request delivered
    # writes all through the kills: every acknowledged one there with its value (a secret's as the oracle
    # sent it), a failed one there or not, but never twice or with another value
    writes = api.writes
    assert writes is not None
    assert writes.acknowledged > 0
    assert writes.failed > 0  # writes were made while the API (or what it needs) was down
    assert (writes.lost, writes.corrupt, writes.duplicated) == ([], [], [])


def assert_lost_nothing(report: Report, requests: int = REQUESTS) -> None:
    verdict = report.verdict
    # every request on chain answered exactly once, whatever the driver sent twice while the node was down
    assert report.sent == requests + report.extra
    automation = report.automation
    assert automation is not None
    assert verdict.requests + automation.pings >= requests
    # every ping on chain performed exactly once by its upkeep, no run of a ping that is not on chain
    assert automation.pings > 0
    assert (automation.missing, automation.doubled, automation.unexpected) == ([], [], [])
    assert automation.performed_once == automation.pings
    assert (verdict.unanswered, verdict.doubled) == ([], [])
    assert verdict.exactly_once == verdict.requests
    # Neo's native Oracle: each request on chain got one response (counted above with the others) whose
    # transaction ran the consumer's callback once, with the fetched result
    native = report.native
    assert native is not None
    assert native.requests == verdict.per_service["native-oracle"] > 0
    assert (native.not_called, native.called_twice, native.wrong, native.tags_twice) == ([], [], [], [])
    assert native.called_once == native.requests
    # recorded as delivered; nothing left in another state without a reason
    assert (verdict.not_recorded, verdict.no_reason) == ([], [])
    assert set(verdict.statuses) == {"delivered"}
    # every outage was waited out quietly (a warning per interval), never a traceback per poll
    assert report.worker_errors == {}
    # no duplicate send: an included outbox transaction is on chain and HALTed, any other never made it
    assert verdict.outbox_wrong == []
    assert verdict.outbox["included"] >= 1
