"""Kill anything, lose nothing, on PostgreSQL (small, seeded): the chaos run of ``chaos.py`` on a private
PostgreSQL server (``pg_server.py``: its own data directory and loopback port, never the machine's shared
server), whose postmaster is SIGKILLed mid-flight and started again, with the worker and the API killed
too, while dice rolls, oracle requests, Neo's native Oracle requests and automation pings flow and the
API's client writes secrets and templates. The worker and the API must reconnect; nothing is lost or done
twice; the API answers 503 (not 500) while the server is down."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.e2e.chain.chaos import Chaos, plan
from tests.e2e.chain.chaos_api import ApiClient, api_key
from tests.e2e.chain.chaos_automation import AutomationMix
from tests.e2e.chain.chaos_native import NativeMix
from tests.e2e.chain.oracle_support import web_server
from tests.e2e.chain.pg_server import PgServer, binaries
from tests.e2e.chain.stack import Stack, close_stack, open_stack
from tests.e2e.chain.test_chaos import assert_api_recovered, assert_lost_nothing
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SEED = 7
REQUESTS = 30
TARGETS = ("database", "worker", "api", "database")


@pytest.fixture
async def pg_chaos(
    contracts_built: None, certificates: LoopbackCertificates
) -> AsyncIterator[tuple[Stack, PgServer]]:
    found = binaries()
    if found is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    server = PgServer(found)
    try:
        await server.start()
        opened = await open_stack(
            database_url=server.url,
            oracle_allow_hosts="127.0.0.1",
            oracle_allow_http="true",
            oracle_ca_file=str(certificates.ca_file),
        )
        try:
            yield opened, server
        finally:
            await close_stack(opened)
            shutil.rmtree(opened.directory, ignore_errors=True)
    finally:
        server.stop()


async def test_every_request_is_answered_once_through_database_server_kills(
    pg_chaos: tuple[Stack, PgServer], certificates: LoopbackCertificates
) -> None:
    stack, server = pg_chaos
    api = ApiClient(stack, await api_key(stack))
    kills = plan(SEED, REQUESTS, len(TARGETS), TARGETS)
    assert [k.target for k in kills].count("database") == 2
    try:
        with web_server() as web, https_server(certificates) as tls:
            automation, native = AutomationMix(stack), NativeMix(stack, tls)
            chaos = Chaos(stack, web, SEED, api=api, database=server, automation=automation, native=native)
            report = await chaos.run(REQUESTS, kills)
    finally:
        api.stop()
    print(f"\nchaos on PostgreSQL: {report}")
    assert len(report.kills) == len(TARGETS)
    for killed in report.kills:
        assert killed.in_flight, killed  # each kill interrupted work: its recovery is what was checked
    # the server was really killed: a crash recovery, not a clean start, each time
    assert server.log().count("database system was interrupted") >= 2
    assert_api_recovered(report)
    assert_lost_nothing(report, REQUESTS)
