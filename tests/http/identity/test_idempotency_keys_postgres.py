"""``Idempotency-Key`` on PostgreSQL as the application role: replay, concurrent duplicates, the
one-time secret kept out of the table, row-level security on ``idempotency_keys`` and the purge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from neo_service_layer.bootstrap import worker_jobs
from neo_service_layer.kernel.identity.rules.api_keys import parse_api_key
from tests.http.identity.conftest import Api, bearer
from tests.http.identity.test_auth_routes import _problem

pytestmark = pytest.mark.postgres


def _keyed(token: str, key: str) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


async def test_idempotency_on_postgres_with_row_level_security(
    make_api: Callable[..., Any], postgres_url: str
) -> None:
    async with make_api(database_url=postgres_url, db_app_role="nsl_app") as api:
        await _flow(api, postgres_url)


async def _flow(api: Api, postgres_url: str) -> None:
    root = await api.root_token()
    racing = [
        api.client.post("/api/v1/tenants", headers=_keyed(root, "race"), json={"name": "racy"})
        for _ in range(4)
    ]
    answers = await asyncio.gather(*racing)
    fresh = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1, [a.text for a in answers]
    for answer in answers:
        if answer is not fresh[0] and answer.status_code == 201:
            assert answer.headers["idempotent-replayed"] == "true"
            assert answer.content == fresh[0].content
        elif answer is not fresh[0]:
            _problem(answer, 409, "idempotency-key-in-flight")
    tenants = (await api.client.get("/api/v1/tenants", headers=bearer(root))).json()
    assert [t["name"] for t in tenants].count("racy") == 1

    alpha, alpha_owner, _ = await api.tenant_with_owner(root, "alpha", "alice")
    bravo, bravo_owner, _ = await api.tenant_with_owner(root, "bravo", "bob")
    body = {"name": "ci", "scopes": ["audit:read"]}
    secrets: dict[str, str] = {}
    for tenant_id, owner in ((alpha, alpha_owner), (bravo, bravo_owner)):
        base = f"/api/v1/tenants/{tenant_id}/api-keys"
        created = await api.client.post(base, headers=_keyed(owner, "same"), json=body)
        assert created.status_code == 201, created.text
        secrets[tenant_id] = created.json()["key"]
        repeat = await api.client.post(base, headers=_keyed(owner, "same"), json=body)
        _problem(repeat, 409, "idempotency-key-one-time-secret")
        assert repeat.json()["resource_id"] == created.json()["id"]
        reused = await api.client.post(base, headers=_keyed(owner, "same"), json={**body, "name": "x"})
        _problem(reused, 422, "idempotency-key-reused")

    connection = await asyncpg.connect(postgres_url)
    try:
        row = await connection.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'idempotency_keys'"
        )
        assert (row["relrowsecurity"], row["relforcerowsecurity"]) == (True, True)
        everything = await connection.fetch("SELECT * FROM idempotency_keys")
        assert len(everything) == 3  # the race's tenant row (platform) and one per tenant
        dumped = repr([dict(r) for r in everything])
        for secret in secrets.values():
            parsed = parse_api_key(secret)
            assert parsed is not None
            assert parsed[1] not in dumped  # the whole secret: it may itself hold "_"
        assert all(r["body"] is None for r in everything if r["tenant_id"] in (alpha, bravo))
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE nsl_app")
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", alpha)
            seen = await connection.fetch("SELECT tenant_id FROM idempotency_keys")
            assert [r["tenant_id"] for r in seen] == [alpha]
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(
                    "INSERT INTO idempotency_keys (tenant_id, scope_digest, actor, method, path,"
                    " idempotency_key, fingerprint, state, claim_token, locked_until, expires_at)"
                    " VALUES ($1, 'd', 'a', 'POST', '/', 'k', 'f', 'in_flight', 't', now(), now())",
                    bravo,
                )
    finally:
        await connection.close()

    api.clock.advance(hours=25)
    purge = {job.name: job for job in worker_jobs(api.container)}["idempotency-purge"]
    await purge.run()  # as the application role, tenant by tenant
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    finally:
        await connection.close()
