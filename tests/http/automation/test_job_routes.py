"""The API of event and condition jobs: refused without a Neo network, every constraint of the request
models enforced at the edge (422 problems), the status of a condition job; and the per-kind counts of
time jobs' runs (delivered, retrying, failed, skipped as missed)."""

from __future__ import annotations

import socket
from typing import Any

from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.services.automation.adapters.job_store import SqlJobStore
from neo_service_layer.services.automation.adapters.webhooks import GuardedWebhooks
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.use_cases.job_runner import JobRunner
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.tenant_jobs import TenantJobs
from neo_service_layer.services.secrets.api import SourceUrlPolicy
from tests.http.automation.conftest import Api
from tests.http.automation.job_support import FakeChain, Recorder, Sender
from tests.http.keys.conftest import MovableClock

C = "0x" + "Ab" * 20


def _job(trigger: dict[str, Any]) -> dict[str, Any]:
    return {"name": "j", "trigger": trigger, "action": {"webhook": {"url": "https://hooks.example.com/h"}}}


def _event(**spec: Any) -> dict[str, Any]:
    return _job({"event": {"contract": C, "name": "Ping", **spec}})


def _condition(**spec: Any) -> dict[str, Any]:
    return _job({"condition": {"contract": C, "method": "ready", "everyBlocks": 3, **spec}})


def _networked(api: Api, chain: FakeChain) -> None:
    container = api.container
    box = AesGcmBox(resolve_kek(container.settings))
    container.parts_of(SERVICE, AutomationParts).jobs = TenantJobs(
        SqlJobStore(container.engine), box, Sender(), container.clock, container.iam.audit_log, chain=chain
    )


async def test_block_triggers_need_a_network(api: Api) -> None:
    acme = await api.tenant("acme")
    for body in (_event(), _condition()):
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "no Neo network configured" in answer.json()["detail"]
        assert answer.json()["type"].endswith("no-neo-network")
    assert (await acme.call("GET", "")).json()["jobs"] == []


async def test_the_edge_refuses_malformed_block_triggers(api: Api) -> None:
    _networked(api, FakeChain(head=100))
    acme = await api.tenant("acme")
    five = [{"index": i, "value": i} for i in range(5)]
    for body in (
        _event(contract="0x" + "ab" * 19),
        _event(contract="ab" * 21),
        _event(contract="0x" + "zz" * 20),
        _event(name=""),
        _event(name="x" * 65),
        _event(filters=five),
        _event(filters=[{"index": 16, "value": 1}]),
        _event(filters=[{"index": 0, "value": {"a": 1}}]),
        _event(filters=[{"index": 0, "value": None}]),
        _event(filters=[{"index": 0, "value": 2**60}]),
        _event(filters=[{"index": 0, "value": 1}, {"index": 0, "value": 2}]),  # one argument twice
        _event(filters=[{"index": 0, "value": 1, "extra": 1}]),
        _event(filters=[{"index": 0}]),  # neither value nor hash160
        _event(filters=[{"index": 0, "value": 1, "hash160": "0x" + "01" * 20}]),  # both
        _event(filters=[{"index": 0, "hash160": "0x12"}]),
        _event(extra=1),
        _condition(everyBlocks=0),
        _condition(everyBlocks=1_000_001),
        _condition(everyBlocks=True),
        _condition(method="1ready"),
        _condition(method="r" * 65),
        _condition(args=list(range(17))),
        _condition(args=[[1]]),
        _job({"event": {"contract": C, "name": "Ping"}, "everySeconds": 60}),
        _job({"condition": {"contract": C, "method": "ready"}}),  # everyBlocks is required
    ):
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await acme.call("GET", "")).json()["jobs"] == []


async def test_a_condition_job_shows_its_next_checked_block(api: Api) -> None:
    chain = FakeChain(head=100)
    _networked(api, chain)
    acme = await api.tenant("acme")
    created = await acme.call("POST", "", json=_condition(args=["a", 1, True, None]))
    assert created.status_code == 201, created.text
    job = created.json()["job"]
    assert job["nextDueBlock"] == 103
    assert job["trigger"]["condition"] == {
        "contract": C.lower(),
        "method": "ready",
        "args": ["a", 1, True, None],
        "everyBlocks": 3,
    }
    shown = (await acme.call("GET", f"/{job['jobId']}")).json()
    assert (shown["nextDueBlock"], shown["nextDueTime"], shown["counts"]) == (103, None, None)
    paused = (await acme.call("POST", f"/{job['jobId']}/pause")).json()
    assert paused["nextDueBlock"] is None
    chain.head = 200
    resumed = (await acme.call("POST", f"/{job['jobId']}/resume")).json()
    assert resumed["nextDueBlock"] == 103  # the grid stays; blocks up to 200 are never seen


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_time_job_runs_are_counted_by_outcome(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    body = {"name": "j", "trigger": {"everySeconds": 60}, "action": {"webhook": {"url": url}}}
    job = (await acme.call("POST", "", json=body)).json()["job"]["jobId"]
    container = api.container
    seen = Recorder()
    webhooks = GuardedWebhooks(SourceUrlPolicy.of(["127.0.0.1"], allow_http=True))
    box = AesGcmBox(resolve_kek(container.settings))
    runner = JobRunner(SqlJobStore(container.engine), box, webhooks, clock, worker_id="w", observer=seen)
    clock.advance(seconds=190)  # three due: the newest runs (latest), two skipped as missed
    assert await runner.run_once() == 1
    for _ in range(2):
        clock.advance(seconds=61)
        await runner.run_once()
    assert seen.runs[("webhook", "skipped", "missed")] == 2
    assert seen.runs[("webhook", "retrying", "")] >= 2
    assert seen.runs[("webhook", "failed", "")] >= 1
    assert seen.latencies == []
    counts = (await acme.call("GET", f"/{job}")).json()["counts"]
    assert counts["skipped"] == 2
    assert counts["failed"] >= 1
    await runner.close()
