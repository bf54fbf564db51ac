"""``Idempotency-Key`` on the creating POSTs, through the app on SQLite (PostgreSQL: the ``_postgres``
module beside this one): a repeat replays, another body or a running first is refused, scopes are
separate, expired keys are forgotten and purged, a one-time secret never reaches the table."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import httpx
from sqlalchemy import text

from neo_service_layer.bootstrap import worker_jobs
from neo_service_layer.kernel.identity.rules.api_keys import parse_api_key
from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem

KEY = {"Idempotency-Key": "create-acme-1"}


def _keyed(token: str, key: str = "k-1") -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


async def _rows(api: Api) -> list[dict[str, Any]]:
    async with api.container.engine.connect() as conn:
        result = await conn.execute(text("SELECT * FROM idempotency_keys ORDER BY tenant_id"))
        return [dict(row._mapping) for row in result]


async def test_a_repeated_create_creates_one_tenant_and_replays_the_first_answer(api: Api, root: str) -> None:
    headers = {**bearer(root), **KEY}
    first = await api.client.post("/api/v1/tenants", headers=headers, json={"name": "acme"})
    again = await api.client.post("/api/v1/tenants", headers=headers, json={"name": "acme"})
    assert first.status_code == again.status_code == 201, again.text
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    listed = (await api.client.get("/api/v1/tenants", headers=bearer(root))).json()
    assert [t["name"] for t in listed].count("acme") == 1


async def test_the_same_key_with_another_body_is_refused(api: Api, root: str) -> None:
    headers = {**bearer(root), **KEY}
    assert (
        await api.client.post("/api/v1/tenants", headers=headers, json={"name": "acme"})
    ).status_code == 201
    other = await api.client.post("/api/v1/tenants", headers=headers, json={"name": "other"})
    _problem(other, 422, "idempotency-key-reused")
    listed = (await api.client.get("/api/v1/tenants", headers=bearer(root))).json()
    assert "other" not in [t["name"] for t in listed]


async def test_a_key_is_scoped_to_its_tenant_and_principal(api: Api, root: str) -> None:
    alpha, alpha_owner, _ = await api.tenant_with_owner(root, "alpha", "alice")
    bravo, bravo_owner, _ = await api.tenant_with_owner(root, "bravo", "bob")
    for tenant_id, owner in ((alpha, alpha_owner), (bravo, bravo_owner)):
        member = {"username": f"dev-{tenant_id}", "role": "developer", "password": PASSWORD}
        added = await api.client.post(
            f"/api/v1/tenants/{tenant_id}/members", headers=_keyed(owner, "same-key"), json=member
        )
        assert added.status_code == 201, added.text
        assert "idempotent-replayed" not in added.headers
        members = (await api.client.get(f"/api/v1/tenants/{tenant_id}/members", headers=bearer(owner))).json()
        assert f"dev-{tenant_id}" in [m["username"] for m in members]
    assert sorted(r["tenant_id"] for r in await _rows(api) if r["idempotency_key"] == "same-key") == sorted(
        [alpha, bravo]
    )


async def test_concurrent_duplicates_create_one_tenant(api: Api, root: str) -> None:
    headers = {**bearer(root), "Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *(api.client.post("/api/v1/tenants", headers=headers, json={"name": "racy"}) for _ in range(4))
    )
    fresh = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1, [a.text for a in answers]
    for answer in answers:
        if answer is fresh[0]:
            continue
        if answer.status_code == 201:
            assert answer.headers["idempotent-replayed"] == "true"
            assert answer.content == fresh[0].content
        else:
            _problem(answer, 409, "idempotency-key-in-flight")
            assert int(answer.headers["retry-after"]) >= 1
    listed = (await api.client.get("/api/v1/tenants", headers=bearer(root))).json()
    assert [t["name"] for t in listed].count("racy") == 1


async def test_bad_keys_are_refused_with_a_problem(api: Api, root: str) -> None:
    for bad in ("", "x" * 256, "tab\tinside", "caf\xe9"):
        raw = [(b"authorization", f"Bearer {root}".encode()), (b"idempotency-key", bad.encode("latin-1"))]
        answer = await api.client.post("/api/v1/tenants", headers=httpx.Headers(raw), json={"name": "bad"})
        _problem(answer, 422, "validation-error")
        assert any("Idempotency-Key" in e["field"] for e in answer.json()["errors"]), answer.json()
    assert await _rows(api) == []
    longest = await api.client.post(
        "/api/v1/tenants", headers={**bearer(root), "Idempotency-Key": "~ " * 127 + "!"}, json={"name": "ok"}
    )
    assert longest.status_code == 201, longest.text


async def test_api_key_plaintext_never_lands_in_the_table_and_is_not_replayed(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/api-keys"
    body = {"name": "ci", "scopes": ["audit:read"]}
    created = await api.client.post(base, headers=_keyed(owner, "key-once"), json=body)
    assert created.status_code == 201, created.text
    plaintext = created.json()["key"]
    parsed = parse_api_key(plaintext)
    assert parsed is not None
    secret_part = parsed[1]  # the secret may itself hold "_" (URL-safe base64)
    rows = [r for r in await _rows(api) if r["idempotency_key"] == "key-once"]
    assert len(rows) == 1
    assert rows[0]["body"] is None
    assert rows[0]["resource_id"] == created.json()["id"]
    assert rows[0]["status"] == 201
    dumped = repr(rows)
    assert plaintext not in dumped
    assert secret_part not in dumped
    async with api.container.engine.connect() as conn:
        tables = [
            r[0] for r in await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        ]
        for table in tables:
            for row in await conn.execute(text(f'SELECT * FROM "{table}"')):
                assert secret_part not in repr(tuple(row)), table
    repeat = await api.client.post(base, headers=_keyed(owner, "key-once"), json=body)
    _problem(repeat, 409, "idempotency-key-one-time-secret")
    assert repeat.json()["resource_id"] == created.json()["id"]
    assert repeat.json()["original_status"] == 201
    assert secret_part not in repeat.text
    listed = (await api.client.get(base, headers=bearer(owner))).json()
    assert [k["id"] for k in listed] == [created.json()["id"]]


async def test_a_refused_one_time_secret_create_is_replayed(api: Api, root: str) -> None:
    """Only a success carries the secret: a 4xx answer of such a route is kept and replayed."""
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/api-keys"
    body = {"name": "x", "scopes": ["root:all"]}
    first = await api.client.post(base, headers=_keyed(owner, "bad-scope"), json=body)
    again = await api.client.post(base, headers=_keyed(owner, "bad-scope"), json=body)
    _problem(first, 422, "invalid-input")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_expired_keys_are_not_replayed_and_are_purged(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/api-keys"
    admin = {"name": "provisioner", "scopes": ["apikeys:admin", "audit:read"]}
    caller = (await api.client.post(base, headers=bearer(owner), json=admin)).json()["key"]
    body = {"name": "ci", "scopes": ["audit:read"]}
    first = await api.client.post(base, headers=_keyed(caller, "daily"), json=body)
    assert first.status_code == 201
    api.clock.advance(hours=23)
    again = await api.client.post(base, headers=_keyed(caller, "daily"), json=body)
    _problem(again, 409, "idempotency-key-one-time-secret")
    assert (await api.client.post(base, headers=_keyed(caller, "other"), json=body)).status_code == 201
    api.clock.advance(hours=1, seconds=1)
    second = await api.client.post(base, headers=_keyed(caller, "daily"), json=body)
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]
    # the worker's purge removes what expired: "daily" (claimed again) and "other" stay
    purge = {job.name: job for job in worker_jobs(api.container)}["idempotency-purge"]
    await purge.run()
    assert sorted(r["idempotency_key"] for r in await _rows(api)) == ["daily", "other"]
    api.clock.advance(hours=23, seconds=30)
    await purge.run()
    assert [r["idempotency_key"] for r in await _rows(api)] == ["daily"]
    api.clock.advance(hours=1)
    await purge.run()
    assert await _rows(api) == []


async def test_the_stored_fingerprint_is_keyed_not_a_bare_hash_of_the_body(api: Api, root: str) -> None:
    """A member's body holds a password: a plain SHA-256 of it in the table could be guessed offline."""
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    body = json.dumps({"username": "dev", "role": "developer", "password": PASSWORD}).encode()
    headers = {**_keyed(owner, "member"), "content-type": "application/json"}
    added = await api.client.post(f"/api/v1/tenants/{tenant_id}/members", headers=headers, content=body)
    assert added.status_code == 201
    again = await api.client.post(f"/api/v1/tenants/{tenant_id}/members", headers=headers, content=body)
    assert again.headers["idempotent-replayed"] == "true"
    (row,) = [r for r in await _rows(api) if r["idempotency_key"] == "member"]
    assert row["fingerprint"] != hashlib.sha256(body).hexdigest()
    assert PASSWORD not in repr(row)


async def test_openapi_states_the_header_and_the_answers_of_a_repeat(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    taking = set()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "Idempotency-Key":
                    assert parameter["in"] == "header"
                    assert parameter["required"] is False
                    schema = parameter["schema"]["anyOf"][0]
                    assert (schema["minLength"], schema["maxLength"]) == (1, 255)
                    assert schema["pattern"]
                    assert "idempotency-key-in-flight" in operation["responses"]["409"]["description"]
                    assert "idempotency-key-reused" in operation["responses"]["422"]["description"]
                    success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
                    assert "Idempotent-Replayed" in success["headers"]
                    taking.add((method, path))
    assert {
        ("post", "/api/v1/tenants"),
        ("post", "/api/v1/tenants/{tenant_id}/members"),
        ("post", "/api/v1/tenants/{tenant_id}/api-keys"),
        ("post", "/api/v1/keys"),
        ("post", "/api/v1/keys/{key_id}/rotate"),
        ("post", "/api/v1/secrets/import"),
        ("post", "/api/v1/oracle/templates"),
        ("post", "/api/v1/randomness"),
        ("post", "/api/v1/compute/functions"),
        ("post", "/api/v1/compute/functions/{function_id}/runs"),
        ("post", "/api/v1/automation/jobs"),
        ("post", "/api/v1/subscriptions"),
        ("post", "/api/v1/subscriptions/{subscription_id}/secret/rotate"),
    } <= taking
    assert all(method == "post" for method, _ in taking)
    assert ("post", "/api/v1/auth/token") not in taking
