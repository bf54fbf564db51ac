"""The keys and secrets APIs on PostgreSQL as the application role, with row-level security checked.

``key_sealed_records`` has no RLS (the loader reads it without a tenant); every tenant-visible table has
RLS FORCEd with the ``tenant_isolation`` policy, so a query in one tenant's transaction sees nothing of
another's, and a query with no tenant set sees no tenant rows at all.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.keys.adapters.tables import TENANT_TABLES as KEYS_TABLES
from neo_service_layer.services.keys.parts import KeysParts
from neo_service_layer.services.secrets.adapters.tables import TENANT_TABLES as SECRETS_TABLES
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, MovableClock
from tests.http.keys.test_keys_api import create, p256_verify, sign

pytestmark = pytest.mark.postgres

TENANT_TABLES = (*KEYS_TABLES, *SECRETS_TABLES)


async def test_flow_and_row_level_security(
    api_settings: Callable[..., Settings], postgres_url: str, clock: MovableClock
) -> None:
    settings = api_settings(database_url=postgres_url, db_app_role="nsl_app")
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        api = Api(app, client, settings, None)  # type: ignore[arg-type]
        acme = await api.tenant("acme")
        evil = await api.tenant("evil")
        key = await create(acme)
        other = await create(evil, "secp256k1")
        signed = await sign(acme, key["key_id"], b"on postgres")
        assert signed.status_code == 200, signed.text
        p256_verify(key["public_key"], bytes.fromhex(signed.json()["signature"]), b"on postgres")
        batch = {"messages": ["00", "01", "02"]}
        assert (
            await acme.call("POST", f"/api/v1/keys/{key['key_id']}/sign-batch", json=batch)
        ).status_code == 200
        rotated = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/rotate")
        assert rotated.json()["current_version"] == 2
        assert (await sign(acme, key["key_id"], b"v2")).json()["version"] == 2
        scheduled = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/destruction")
        assert scheduled.json()["status"] == "pending_destruction"
        assert (await acme.call("DELETE", f"/api/v1/keys/{key['key_id']}/destruction")).json()[
            "status"
        ] == "active"
        assert (await evil.call("POST", f"/api/v1/keys/{other['key_id']}/disable")).json()[
            "status"
        ] == "disabled"
        assert (await sign(evil, other["key_id"], b"x")).status_code == 409
        verify = {"message": "6f6e20706f737467726573", "signature": signed.json()["signature"], "version": 1}
        assert (await acme.call("POST", f"/api/v1/keys/{key['key_id']}/verify", json=verify)).json()["valid"]
        assert (await evil.call("GET", f"/api/v1/keys/{key['key_id']}")).status_code == 404
        assert [k["key_id"] for k in (await evil.call("GET", "/api/v1/keys")).json()] == [other["key_id"]]
        put = await acme.call(
            "PUT", "/api/v1/secrets/db", json={"value": "pg-secret", "consumers": ["oracle"]}
        )
        assert put.status_code == 201
        assert (await evil.call("GET", "/api/v1/secrets/db")).status_code == 404
        clock.advance(days=91)
        keys = api.container.parts_of("keys", KeysParts)
        assert await keys.refresh_rotation_gauge() == 1  # acme's key (evil's is disabled)
        # the loader reads sealed records with no tenant: the enclave re-provisions from PostgreSQL
        record = await keys.keys.load_sealed_record(key["key_id"], None)
        assert (await api.container.enclave.load_key(key["key_id"], record)).version == 2

    connection = await asyncpg.connect(postgres_url)
    try:
        for table in (*TENANT_TABLES, "key_sealed_records"):
            row = await connection.fetchrow(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
            )
            expected = table != "key_sealed_records"
            assert (row["relrowsecurity"], row["relforcerowsecurity"]) == (expected, expected), table
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE nsl_app")
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", acme.id)
            assert await connection.fetchval("SELECT count(*) FROM managed_keys") == 1
            assert await connection.fetchval("SELECT count(*) FROM managed_key_versions") == 2
            assert (
                await connection.fetchval("SELECT count(*) FROM managed_keys WHERE tenant_id = $1", evil.id)
                == 0
            )
            assert await connection.fetchval("SELECT count(*) FROM tenant_secrets") == 1
            assert await connection.fetchval("SELECT count(*) FROM key_sealed_records") == 3  # no RLS there
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(
                    "INSERT INTO managed_keys (key_id, tenant_id, label, kind, purposes, status,"
                    " current_version, min_sign_version, created_at)"
                    " VALUES ('k_x', $1, 'x', 'secp256r1', 'message', 'active', 1, 1, now())",
                    evil.id,
                )
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE nsl_app")
            for table in TENANT_TABLES:
                assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    finally:
        await connection.close()
