"""Tenant jobs on PostgreSQL: a real webhook receiver on 127.0.0.1 gets every due occurrence of every
job exactly once from two workers running side by side, each signed with the secret the API returned at
creation; a run whose worker died mid-run is delivered after its lease; row-level security holds."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import pytest
from aiohttp import web

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.services.automation.adapters.job_store import SqlJobStore
from neo_service_layer.services.automation.adapters.webhooks import GuardedWebhooks
from neo_service_layer.services.automation.rules.jobs import (
    JOB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    verify_signature,
)
from neo_service_layer.services.automation.use_cases.job_runner import JobRunner
from neo_service_layer.services.secrets.api import SourceUrlPolicy
from tests.http.appclient import app_client
from tests.http.automation.conftest import Api
from tests.http.keys.conftest import MovableClock

pytestmark = pytest.mark.postgres


@dataclass
class Received:
    job: str
    occurrence: int
    valid: bool


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[Received], dict[str, bytes]]]:
    """A webhook receiver on 127.0.0.1 checking each call's signature with the job's secret."""
    got: list[Received] = []
    secrets: dict[str, bytes] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        job = request.headers[JOB_HEADER]
        stamp = int(request.headers[TIMESTAMP_HEADER])
        valid = verify_signature(secrets[job], stamp, body, request.headers[SIGNATURE_HEADER])
        payload = json.loads(body)
        got.append(Received(payload["job_id"], payload["occurrence"], valid and payload["job_id"] == job))
        await asyncio.sleep(0.01)  # the two workers overlap
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", got, secrets
    finally:
        await runner.cleanup()


class _Stuck:
    """A worker that claims and then never finishes (killed mid-run)."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.body = b""

    async def check(self, url: str) -> None:
        return None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Delivery:
        self.body = body
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("never")


async def test_two_workers_fire_each_occurrence_once(
    jobs_settings: Callable[..., Settings],
    postgres_url: str,
    clock: MovableClock,
    receiver: tuple[str, list[Received], dict[str, bytes]],
) -> None:
    url, got, secrets = receiver
    settings = jobs_settings(database_url=postgres_url, db_app_role="nsl_app")
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        api = Api(app, client)
        acme, umbrella = await api.tenant("acme"), await api.tenant("umbrella")
        jobs = []
        for tenant, every in ((acme, 10), (acme, 20), (umbrella, 30)):
            body = {"name": "j", "trigger": {"everySeconds": every}, "catchUp": "all",
                    "action": {"webhook": {"url": url}}}  # fmt: skip
            created = (await tenant.call("POST", "", json=body)).json()
            secrets[created["job"]["jobId"]] = created["webhookSecret"].encode()
            jobs.append((tenant, created["job"]["jobId"], every))
        container = api.container
        box = AesGcmBox(resolve_kek(settings))
        webhooks = GuardedWebhooks(SourceUrlPolicy.of(["127.0.0.1"], allow_http=True))

        def worker(name: str, sender: object = webhooks) -> JobRunner:
            return JobRunner(SqlJobStore(container.engine), box, sender, clock, worker_id=name)  # type: ignore[arg-type]

        one, two = worker("worker-1"), worker("worker-2")
        for step in (10, 10, 25, 5, 60):  # 110 s in all, some steps with several occurrences due
            clock.advance(seconds=step)
            await asyncio.gather(one.run_once(), two.run_once(), one.run_once(), two.run_once())
        counts = Counter((r.job, r.occurrence) for r in got)
        assert all(r.valid for r in got)
        assert set(counts.values()) == {1}, counts
        for tenant, job_id, every in jobs:
            mine = sorted(o for j, o in counts if j == job_id)
            assert len(mine) == 110 // every
            assert all(b - a == every for a, b in itertools.pairwise(mine))
            runs = (await tenant.call("GET", f"/{job_id}")).json()["runs"]
            assert {(r["status"], r["attempts"], r["httpStatus"]) for r in runs} == {("delivered", 1, 204)}
            assert sorted(r["occurrence"] for r in runs) == mine

        # a worker killed mid-run: its claimed occurrence is delivered once, after its lease
        stuck = _Stuck()
        dead = worker("worker-dead", stuck)
        clock.advance(seconds=10)
        task = asyncio.create_task(dead.run_once())
        await asyncio.wait_for(stuck.called.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        held = json.loads(stuck.body)
        held_job, held_occurrence = held["job_id"], held["occurrence"]
        await one.run_once()  # the lease is still held: that occurrence is not fired again
        assert [r for r in got if (r.job, r.occurrence) == (held_job, held_occurrence)] == []
        clock.advance(seconds=61)
        await one.run_once()
        late = [r for r in got if (r.job, r.occurrence) == (held_job, held_occurrence)]
        assert len(late) == 1
        assert late[0].valid
        tenant = next(t for t, j, _ in jobs if j == held_job)
        runs = (await tenant.call("GET", f"/{held_job}")).json()["runs"]
        retried = [r for r in runs if r["occurrence"] == held_occurrence]
        assert [(r["status"], r["attempts"]) for r in retried] == [("delivered", 2)]
        counts = Counter((r.job, r.occurrence) for r in got)
        assert set(counts.values()) == {1}, counts
        await webhooks.aclose()

    connection = await asyncpg.connect(postgres_url)
    try:
        for table, forced in (
            ("automation_jobs", True),
            ("automation_job_runs", True),
            ("automation_job_index", False),
        ):
            row = await connection.fetchrow(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
            )
            assert (row["relrowsecurity"], row["relforcerowsecurity"]) == (forced, forced), table
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE nsl_app")
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", umbrella.id)
            assert await connection.fetchval("SELECT count(*) FROM automation_jobs") == 1
            assert (
                await connection.fetchval(
                    "SELECT count(*) FROM automation_job_runs WHERE tenant_id = $1", acme.id
                )
                == 0
            )
            for secret in secrets.values():
                assert (
                    await connection.fetchval(
                        "SELECT count(*) FROM automation_jobs WHERE position($1 in secret_sealed) > 0", secret
                    )
                    == 0
                )
    finally:
        await connection.close()
