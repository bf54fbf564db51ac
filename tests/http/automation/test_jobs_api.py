"""``/api/v1/automation/jobs``: a tenant's webhook jobs through the API, its scopes and isolation, the
edge's validation, the secret shown once and kept sealed, and a status that says why a run failed."""

from __future__ import annotations

import socket
import sqlite3
from contextlib import closing
from pathlib import Path

from neo_service_layer.services.automation.service import tenant_job_runner
from tests.http.automation.conftest import Api
from tests.http.keys.conftest import MovableClock
from tests.scopes import TENANT_SCOPES


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _job(url: str = "https://example.com/hook", **trigger: object) -> dict[str, object]:
    return {
        "name": "nightly report",
        "trigger": trigger or {"cron": "0 3 * * *"},
        "action": {"webhook": {"url": url, "data": {"report": "daily", "n": 3}}},
    }


async def test_create_read_pause_resume_delete(api: Api, tmp_path: Path) -> None:
    acme = await api.tenant("acme")
    created = await acme.call("POST", "", json=_job("http://127.0.0.1:9/hook", everySeconds=60))
    assert created.status_code == 201, created.text
    secret = created.json()["webhookSecret"]
    job = created.json()["job"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert job["state"] == "active"
    assert job["trigger"] == {"cron": None, "everySeconds": 60, "event": None, "condition": None}
    assert job["action"]["webhook"]["data"] == {"report": "daily", "n": 3}
    assert job["nextDueTime"] is not None
    path = f"/{job['jobId']}"

    shown = await acme.call("GET", path, "automation:read")
    assert shown.status_code == 200
    assert shown.json()["runs"] == []
    assert secret not in shown.text
    listed = await acme.call("GET", "", "automation:read")
    assert [j["jobId"] for j in listed.json()["jobs"]] == [job["jobId"]]
    assert listed.json()["next"] is None

    paused = await acme.call("POST", f"{path}/pause")
    assert (paused.json()["state"], paused.json()["nextDueTime"]) == ("paused", None)
    resumed = await acme.call("POST", f"{path}/resume")
    assert resumed.json()["state"] == "active"
    assert resumed.json()["nextDueTime"] is not None

    # the secret is kept sealed, never in the clear
    with closing(sqlite3.connect(tmp_path / "nsl.db")) as db:
        sealed = db.execute("SELECT secret_sealed FROM automation_jobs").fetchone()[0]
        dump = "\n".join(db.iterdump())
    assert secret.encode() not in sealed
    assert secret not in dump

    assert (await acme.call("DELETE", path)).status_code == 204
    headers = {"authorization": f"Bearer {acme.keys[tuple(sorted(TENANT_SCOPES))]}"}
    log = (await api.client.get("/api/v1/audit?limit=50", headers=headers)).json()["entries"]
    trail = [(e["action"], e["target"]) for e in log if e["action"].startswith("automation.")]
    target = f"job:{job['jobId']}"
    assert sorted(trail) == sorted(
        (f"automation.job_{op}", target) for op in ("create", "pause", "resume", "delete")
    )
    assert secret not in str(log)
    assert "/hook" not in str(log)  # the URL's host only
    gone = await acme.call("GET", path)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert (await acme.call("DELETE", path)).status_code == 404


async def test_scopes_and_tenants(api: Api) -> None:
    acme, evil = await api.tenant("acme"), await api.tenant("evil")
    refused = await acme.call("POST", "", "automation:read", json=_job("http://127.0.0.1:9/h"))
    assert refused.status_code == 403
    created = await acme.call("POST", "", "automation:write", json=_job("http://127.0.0.1:9/h"))
    assert created.status_code == 201
    job_id = created.json()["job"]["jobId"]
    assert (await acme.call("GET", "", "automation:write")).status_code == 403
    for method, path in (("GET", f"/{job_id}"), ("POST", f"/{job_id}/pause"), ("DELETE", f"/{job_id}")):
        assert (await evil.call(method, path)).status_code == 404
    assert (await evil.call("GET", "")).json()["jobs"] == []
    assert (await acme.call("GET", f"/{job_id}")).json()["state"] == "active"


async def test_the_edge_refuses_bad_jobs(api: Api) -> None:
    acme = await api.tenant("acme")
    both = _job("http://127.0.0.1:9/h")
    both["trigger"] = {"cron": "* * * * *", "everySeconds": 60}
    for body in (
        both,
        _job("http://127.0.0.1:9/h", cron="61 * * * *"),
        _job("http://127.0.0.1:9/h", everySeconds=5),
        _job("https://10.0.0.7/h"),  # private: the SSRF guard
        _job("https://169.254.169.254/latest/meta-data"),
        _job("ftp://127.0.0.1/h"),
        {**_job(), "extra": 1},
        {**_job(), "action": {"contract": {"method": "x"}}},  # contract actions are not offered
    ):
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await acme.call("GET", "/job_nothex")).status_code == 422


async def test_a_failing_webhook_says_why_and_gives_up(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    job = (await acme.call("POST", "", json=_job(url, everySeconds=60))).json()["job"]
    runner = tenant_job_runner(api.container)
    assert await runner.run_once() == 0  # nothing due yet
    clock.advance(seconds=61)
    assert await runner.run_once() == 1
    runs = (await acme.call("GET", f"/{job['jobId']}")).json()["runs"]
    assert len(runs) == 1
    assert runs[0]["status"] == "retrying"
    assert runs[0]["attempts"] == 1
    assert runs[0]["reason"].startswith("connection failed")
    assert runs[0]["retryAt"] is not None
    assert await runner.run_once() == 0  # not before its retry time
    for _ in range(2):
        clock.advance(seconds=61)
        await runner.run_once()
    runs = (await acme.call("GET", f"/{job['jobId']}")).json()["runs"]
    first = runs[-1]
    assert first["status"] == "failed"
    assert first["attempts"] == 3
    assert "gave up after 3 attempts" in first["reason"]
    assert first["finishedAt"] is not None
    await runner.close()


async def test_runs_that_did_not_happen_say_why(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    runner = tenant_job_runner(api.container)
    late = (await acme.call("POST", "", json=_job(url, everySeconds=60))).json()["job"]
    paused = (await acme.call("POST", "", json=_job(url, everySeconds=60))).json()["job"]
    await acme.call("POST", f"/{paused['jobId']}/pause")
    clock.advance(seconds=190)  # three occurrences of each while no worker ran
    resumed = await acme.call("POST", f"/{paused['jobId']}/resume")
    assert [(r["status"], r["reason"]) for r in resumed.json()["runs"]] == [("skipped", "paused")] * 3
    assert await runner.run_once() == 1  # catch-up latest: the newest occurrence of the late job only
    runs = (await acme.call("GET", f"/{late['jobId']}")).json()["runs"]
    assert [r["status"] for r in runs] == ["retrying", "skipped", "skipped"]
    assert all(r["reason"].startswith("missed") for r in runs[1:])
    assert runs[0]["occurrence"] - runs[1]["occurrence"] == 60
    await runner.close()
