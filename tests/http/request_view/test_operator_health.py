"""``/system/health`` and ``/backups/status``: operators only; workers from their heartbeats, watchers
from their cursors, the enclave's mode spelled out, and the newest (verified) backup from the target."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from tests.http.subscriptions.conftest import Api


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_operator_health_lists_workers_watchers_and_the_enclave_mode(api: Api, operator: str) -> None:
    now = api.clock.now()
    engine = api.container.engine
    await record_heartbeat(
        engine, worker_id="w-alive", hostname="h1", pid=os.getpid(), started_at=now, now=now
    )
    api.clock.advance(seconds=60)
    later = api.clock.now()
    await record_heartbeat(engine, worker_id="w-new", hostname="h2", pid=1, started_at=later, now=later)
    store = SqlRequestStore(engine, RandomnessPayloads())
    await store.apply_block(
        "randomness:0x" + "11" * 20, "randomness", "0x" + "11" * 20, 42, None, [], [], later
    )

    answer = await api.client.get("/api/v1/system/health", headers=_auth(operator))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    workers = {w["workerId"]: w for w in body["workers"]}
    assert workers["w-new"]["alive"] is True
    assert workers["w-alive"]["alive"] is False  # its last heartbeat is 60 s old now
    assert [(w["name"], w["block"], w["lag"]) for w in body["watchers"]] == [
        ("randomness:0x" + "11" * 20, 42, None)  # no chain configured here: the lag is not claimed
    ]
    assert body["enclave"] == {"mode": "unknown", "platform": None, "up": False}  # no enclave in this app
    names = {c["name"] for c in body["components"]}
    assert {"database", "enclave", "workers"} <= names
    assert body["chains"] == []

    acme = await api.tenant("acme")
    key = await acme.key()  # every tenant scope: still not an operator
    refused = await api.client.get("/api/v1/system/health", headers=_auth(key))
    assert refused.status_code == 403
    assert (await api.client.get("/api/v1/backups/status", headers=_auth(key))).status_code == 403


async def test_backup_status_reports_the_newest_and_newest_verified_backup(
    api: Api, operator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NSL_BACKUP_DIR", str(tmp_path / "offsite"))
    monkeypatch.delenv("NSL_BACKUP_KEY", raising=False)
    client: httpx.AsyncClient = api.client
    unkeyed = (await client.get("/api/v1/backups/status", headers=_auth(operator))).json()
    assert unkeyed["readable"] is False
    assert "key" in unkeyed["detail"].lower()

    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("NSL_BACKUP_KEY", key)
    empty = (await client.get("/api/v1/backups/status", headers=_auth(operator))).json()
    assert (empty["readable"], empty["count"], empty["newest"]) == (True, 0, None)
    if api.container.engine.dialect.name != "sqlite":
        return  # a PostgreSQL backup needs the server version's pg_dump: tests/integration/backup
    settings = BackupSettings(key=key, dir=tmp_path / "offsite")
    service = build_backup_service(api.container.settings, settings, clock=api.container.clock)
    created = await service.create()
    shown = (await client.get("/api/v1/backups/status", headers=_auth(operator))).json()
    assert shown["count"] == 1
    assert shown["newest"]["backupId"] == created.backup_id
    assert shown["newestVerified"] is None
    await service.verify(created.backup_id)
    verified = (await client.get("/api/v1/backups/status", headers=_auth(operator))).json()
    assert verified["newestVerified"]["backupId"] == created.backup_id
    assert verified["newestVerified"]["verifiedAt"] is not None
