"""Key and secret lifecycle events: each successful change through the API publishes a ``key.*`` or
``secret.*`` tenant event with its audit entry (the same transaction), refused changes publish none, and
a key rotation is also a security event."""

from __future__ import annotations

import json

from neo_service_layer.services.keys.service import keys_jobs
from tests.http.events_support import outbox_of
from tests.http.keys.conftest import Api, MovableClock, Tenant
from tests.http.keys.test_keys_api import create


async def _events(tenant: Tenant) -> list[tuple[str, dict[str, object]]]:
    return [(t, d) for _, t, d in await outbox_of(tenant.container, tenant.id)]


async def test_key_and_secret_changes_publish_lifecycle_events(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    key_id = key["key_id"]
    rotated = await acme.call("POST", f"/api/v1/keys/{key_id}/rotate", "keys:admin")
    assert rotated.status_code == 200, rotated.text
    put = await acme.call("PUT", "/api/v1/secrets/db/password", "secrets:write", json={"value": "v1"})
    assert put.status_code == 201, put.text
    assert (await acme.call("DELETE", "/api/v1/secrets/db/password", "secrets:write")).status_code == 204
    missing = await acme.call("DELETE", "/api/v1/secrets/db/password", "secrets:write")
    assert missing.status_code == 404  # refused: no event
    lifecycle = [(t, d) for t, d in await _events(acme) if t.split(".")[0] in ("key", "secret")]
    assert [t for t, _ in lifecycle] == ["key.created", "key.rotated", "secret.written", "secret.deleted"]
    created, turned, written, deleted = (d for _, d in lifecycle)
    assert created["target"] == turned["target"]
    assert key_id in str(created["target"])
    assert "db/password" in str(written["target"])
    assert "db/password" in str(deleted["target"])
    assert all(isinstance(d["auditSeq"], int) for _, d in lifecycle)
    security = [d["action"] for t, d in await _events(acme) if t == "audit.security"]
    assert "key.rotate" in security  # a rotation is both
    assert "v1" not in json.dumps([d for _, d in lifecycle])  # never a value


async def test_a_key_past_its_age_is_announced_once_per_version(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    [job] = [j for j in keys_jobs(api.container) if j.name == "key-rotation-notices"]
    await job.run()
    assert [t for t, _ in await _events(acme) if t == "key.rotation_due"] == []  # young: nothing
    clock.advance(days=91)
    for _ in range(2):  # a second pass (or a second worker) announces nothing again
        await job.run()
    due = [d for t, d in await _events(acme) if t == "key.rotation_due"]
    assert [(d["keyId"], d["version"], d["maxAgeDays"]) for d in due] == [(key["key_id"], 1, 90)]
    rotated = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/rotate", "keys:admin")
    assert rotated.status_code == 200
    await job.run()  # the new version is young
    clock.advance(days=91)
    await job.run()
    due = [d for t, d in await _events(acme) if t == "key.rotation_due"]
    assert [d["version"] for d in due] == [1, 2]
