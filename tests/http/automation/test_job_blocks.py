"""Tenant jobs on block triggers, on SQLite and PostgreSQL (row-level security on): the block scanner
records every matching notification and every holding condition once (a block read again after a
crash records nothing twice), the runner delivers each once with the block, transaction and values,
the status shows them, pausing hides the blocks meanwhile; and the clean-up deletes only old finished
runs, tenant by tenant, in batches."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

from sqlalchemy import update

from neo_service_layer.kernel.chain.ports.chain import (
    ChainCallFaulted,
)
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.services.automation.adapters.job_block_store import SqlJobBlockStore, SqlJobRunJanitor
from neo_service_layer.services.automation.adapters.job_store import SqlJobStore
from neo_service_layer.services.automation.adapters.job_tables import automation_job_scan
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.rules.jobs import RunStatus
from neo_service_layer.services.automation.use_cases.job_blocks import JobBlockScanner
from neo_service_layer.services.automation.use_cases.job_cleanup import JobRunCleanup
from neo_service_layer.services.automation.use_cases.job_runner import JobRunner
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.tenant_jobs import TenantJobs
from tests.http.automation.conftest import Api
from tests.http.automation.job_support import OTHER, TX, C, FakeChain, Recorder, Sender
from tests.http.keys.conftest import MovableClock


def _with_chain(api: Api, settings: Settings, chain: FakeChain, sender: Sender) -> None:
    """The API's tenant jobs with a (fake) Neo network."""
    container = api.container
    parts = container.parts_of(SERVICE, AutomationParts)
    box = AesGcmBox(resolve_kek(settings))
    parts.jobs = TenantJobs(
        SqlJobStore(container.engine), box, sender, container.clock, container.iam.audit_log, chain=chain
    )


def _event(name: str = "Ping", **more: Any) -> dict[str, Any]:
    return {
        "name": "on ping",
        "trigger": {"event": {"contract": C, "name": name, **more}},
        "action": {"webhook": {"url": "https://hooks.example.com/nsl", "data": {"k": "v"}}},
    }


def _condition(method: str, catch_up: str) -> dict[str, Any]:
    return {
        "name": "when ready",
        "trigger": {"condition": {"contract": C, "method": method, "args": ["a", 2], "everyBlocks": 2}},
        "action": {"webhook": {"url": "https://hooks.example.com/nsl"}},
        "catchUp": catch_up,
    }


async def test_block_jobs_run_once_per_event_and_holding_check(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, settings = backend
    chain, sender, seen = FakeChain(), Sender(), Recorder()
    _with_chain(api, settings, chain, sender)
    acme = await api.tenant("acme")
    created = {}
    for key, body in (
        ("every", _event()),
        ("filtered", _event(filters=[{"index": 0, "value": 1}, {"index": 1, "value": "ping"}])),
        ("latest", _condition("ready", "latest")),
        ("all", _condition("check", "all")),
    ):
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 201, answer.text
        created[key] = answer.json()["job"]["jobId"]
        sender.secrets[created[key]] = answer.json()["webhookSecret"].encode()
    ids = {v: k for k, v in created.items()}
    chain.emit(10, "Ping", 1, b"ping")  # the block the jobs started at: never seen
    chain.emit(11, "Ping", 0, b"ping")
    chain.emit(11, "Ping", 1, b"ping")
    chain.emit(11, "Ping", 1, b"ping", state="FAULT")  # rolled back: not an event
    chain.emit(12, "Pong", 1, b"ping")
    chain.emit(12, "Ping", 2, b"\x00\xff")
    chain.emit(14, "Ping", 1, b"ping", contract=OTHER)
    chain.answers = {"ready": (True, b"armed"), "check": 5}
    chain.head = 15

    engine = api.container.engine
    scanner = JobBlockScanner(chain, SqlJobBlockStore(engine), clock, seen)
    assert await scanner.poll() == 5  # blocks 11-15
    assert await scanner.poll() == 0
    # latest checks only the newest grid height up to the head (14), all checks 12 and 14
    assert [(c.method, c.args) for c in chain.reads] == [
        ("check", ("a", 2)),
        ("ready", ("a", 2)),
        ("check", ("a", 2)),
    ]
    assert seen.runs[("webhook", "skipped", "missed")] == 1

    # a replica (or this scanner after a crash) reading the blocks again records nothing twice
    async with engine.begin() as conn:
        await conn.execute(update(automation_job_scan).values(block=10))
    chain.answers = {"ready": False, "check": 0}
    replica = JobBlockScanner(chain, SqlJobBlockStore(engine), clock, seen)
    assert await replica.poll() == 5
    assert seen.runs[("webhook", "skipped", "condition_false")] == 3

    box = AesGcmBox(resolve_kek(settings))
    runner = JobRunner(SqlJobStore(engine), box, sender, clock, worker_id="w1", observer=seen)
    assert await runner.run_once() == 7
    assert await runner.run_once() == 0
    delivered = Counter((s.job, s.body["occurrence"]) for s in sender.sent)
    assert set(delivered.values()) == {1}
    by_job: dict[str, list[dict[str, Any]]] = {}
    for s in sender.sent:
        assert s.valid
        by_job.setdefault(ids[s.job], []).append(s.body)
    every = sorted(by_job["every"], key=lambda b: b["occurrence"])
    assert [b["occurrence"] for b in every] == [11_000_000, 11_000_001, 12_000_001]
    assert every[2] == {
        "job_id": created["every"],
        "occurrence": 12_000_001,
        "block": 12,
        "txHash": TX,
        "event": {"contract": C, "name": "Ping", "values": [2, base64.b64encode(b"\x00\xff").decode()]},
        "data": {"k": "v"},
    }
    assert [b["occurrence"] for b in by_job["filtered"]] == [11_000_001]
    assert [(b["occurrence"], b["condition"]["data"]) for b in by_job["latest"]] == [(14, "YXJtZWQ=")]
    assert sorted((b["occurrence"], b["condition"]["data"]) for b in by_job["all"]) == [(12, 5), (14, 5)]
    assert seen.runs[("webhook", "delivered", "")] == 7
    assert len(seen.latencies) == 7

    status = (await acme.call("GET", f"/{created['every']}")).json()
    assert status["counts"] == {"delivered": 3}
    assert status["scannedBlock"] == 15
    assert {(r["block"], r["txHash"], r["scheduledAt"]) for r in status["runs"]} == {
        (11, TX, None),
        (12, TX, None),
    }
    assert status["trigger"]["event"] == {"contract": C, "name": "Ping", "filters": []}
    condition = (await acme.call("GET", f"/{created['latest']}")).json()
    assert (condition["nextDueBlock"], condition["nextDueTime"]) == (16, None)

    # paused: the blocks meanwhile are never seen, even those the scanner reads after the resume
    await acme.call("POST", f"/{created['every']}/pause")
    chain.emit(16, "Ping", 5, b"ping")
    chain.head = 16
    resumed = await acme.call("POST", f"/{created['every']}/resume")
    assert resumed.json()["state"] == "active"
    chain.emit(17, "Ping", 6, b"ping")
    chain.head = 17
    chain.answers = {"ready": False, "check": 0}
    await scanner.poll()
    await runner.run_once()
    later = [s.body["occurrence"] for s in sender.sent if s.job == created["every"]]
    assert sorted(later) == [11_000_000, 11_000_001, 12_000_001, 17_000_000]


async def test_a_faulting_check_records_nothing_and_is_counted(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, settings = backend
    chain, sender, seen = FakeChain(), Sender(), Recorder()
    _with_chain(api, settings, chain, sender)
    acme = await api.tenant("acme")
    job = (await acme.call("POST", "", json=_condition("ready", "all"))).json()["job"]["jobId"]
    chain.answers = {"ready": ChainCallFaulted("boom")}
    chain.head = 12
    await JobBlockScanner(chain, SqlJobBlockStore(api.container.engine), clock, seen).poll()
    assert seen.runs == Counter({("webhook", "skipped", "check_faulted"): 1})
    assert (await acme.call("GET", f"/{job}")).json()["runs"] == []


async def test_old_finished_runs_are_deleted_tenant_by_tenant(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, _ = backend
    engine = api.container.engine
    store = SqlJobStore(engine)
    body = {
        "name": "j",
        "trigger": {"everySeconds": 60},
        "action": {"webhook": {"url": "http://127.0.0.1:9/h"}},
    }
    jobs = []
    for name in ("acme", "umbrella"):
        tenant = await api.tenant(name)
        jobs.append((tenant, (await tenant.call("POST", "", json=body)).json()["job"]["jobId"]))
    for tenant, job_id in jobs:
        async with store.locked(tenant.id, job_id) as held:
            assert held is not None
            now = clock.now()
            for status, occurrences in (
                (RunStatus.SKIPPED, range(100, 103)),
                (RunStatus.RUNNING, [200]),
                (RunStatus.RETRYING, [300]),
                (RunStatus.SENT, [500]),  # a contract call's transaction in flight
            ):
                await held.insert_runs(occurrences, status, worker="w", lease_until=0, reason="x", now=now)
    clock.advance(days=31)
    async with store.locked(jobs[0][0].id, jobs[0][1]) as held:  # a recent one stays
        assert held is not None
        await held.insert_runs(
            [400], RunStatus.SKIPPED, worker=None, lease_until=None, reason="x", now=clock.now()
        )
    cleanup = JobRunCleanup(SqlJobRunJanitor(engine), clock, retention_days=30, batch=2)
    assert await cleanup.run_once() == 6
    assert await cleanup.run_once() == 0
    for tenant, job_id in jobs:
        left = (await tenant.call("GET", f"/{job_id}")).json()["runs"]
        expected = {200, 300, 400, 500} if tenant is jobs[0][0] else {200, 300, 500}
        assert {r["occurrence"] for r in left} == expected
