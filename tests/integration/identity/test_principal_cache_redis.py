"""Two API replicas over one database and one Redis: a revocation through one is refused by the other.

The cached principals live for an hour here, so only the invalidation published through Redis can
make the second replica refuse a credential it has cached.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN, Role
from tests.http.appclient import app_client
from tests.integration.identity.conftest import FAST_HASHING

pytestmark = pytest.mark.redis

ME = "/api/v1/auth/me"
PASSWORD = "a long enough pass phrase"


@dataclass
class Replicas:
    first: httpx.AsyncClient
    second: httpx.AsyncClient
    apps: list[object]


@pytest.fixture
async def replicas(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> AsyncIterator[Replicas]:
    channel = f"nsl-test-cache-{uuid.uuid4().hex}"
    apps = [
        create_app(
            make_settings(
                data_dir=tmp_path / "shared",
                redis_url=redis_url,
                cache_invalidation_channel=channel,
                principal_cache_ttl_seconds=3600,
                rate_limit_enabled=False,
                **FAST_HASHING,
            ),
            migrate=i == 0,
        )
        for i in range(2)
    ]
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(app_client(apps[0]))
        second = await stack.enter_async_context(app_client(apps[1]))
        yield Replicas(first, second, list(apps))


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def _refused_within_reach(client: httpx.AsyncClient, credential: str) -> int:
    """Poll a bounded number of times until the replica refuses ``credential``; the last status."""
    status = 200
    for _ in range(200):
        status = (await client.get(ME, headers=bearer(credential))).status_code
        if status == 401:
            break
        await asyncio.sleep(0.02)
    return status


async def _tenant_owner(replicas: Replicas) -> tuple[str, Principal]:
    container = replicas.apps[0].state.container  # type: ignore[attr-defined]
    scopes = container.iam.scope_catalogue
    admin = Principal(
        PLATFORM_TENANT, "usr_admin", PrincipalKind.USER, frozenset({SUPERADMIN}), scopes.all_scopes
    )
    tenant = await container.iam.identity.create_tenant(admin, f"acme-{uuid.uuid4().hex[:6]}")
    owner = Principal(tenant.id, "usr_owner", PrincipalKind.USER, frozenset({"owner"}), scopes.tenant_scopes)
    return tenant.id, owner


async def test_an_api_key_revoked_on_one_replica_is_refused_by_the_other(replicas: Replicas) -> None:
    container = replicas.apps[0].state.container  # type: ignore[attr-defined]
    tenant_id, owner = await _tenant_owner(replicas)
    key, secret = await container.iam.api_keys.create(owner, tenant_id, name="ci", scopes=["members:read"])
    for _ in range(2):  # cached on both replicas
        assert (await replicas.second.get(ME, headers=bearer(secret))).status_code == 200
        assert (await replicas.first.get(ME, headers=bearer(secret))).status_code == 200
    second_caches = replicas.apps[1].state.container.iam.principal_caches  # type: ignore[attr-defined]
    assert len(second_caches.api_keys) == 1
    await container.iam.api_keys.revoke(owner, tenant_id, key.id)
    assert (await replicas.first.get(ME, headers=bearer(secret))).status_code == 401
    assert await _refused_within_reach(replicas.second, secret) == 401


async def test_sign_out_and_member_removal_reach_the_other_replica(replicas: Replicas) -> None:
    container = replicas.apps[0].state.container  # type: ignore[attr-defined]
    tenant_id, owner = await _tenant_owner(replicas)
    member = await container.iam.identity.add_member(
        owner, tenant_id, username=f"bob-{uuid.uuid4().hex[:6]}", role=Role.VIEWER, password=PASSWORD
    )
    username = member.username
    signed_out = (await container.iam.auth.sign_in(username, PASSWORD, tenant=tenant_id)).access_token
    removed = (await container.iam.auth.sign_in(username, PASSWORD, tenant=tenant_id)).access_token
    for token in (signed_out, removed, signed_out, removed):
        assert (await replicas.second.get(ME, headers=bearer(token))).status_code == 200
    assert (await replicas.first.post("/api/v1/auth/logout", headers=bearer(signed_out))).status_code == 204
    assert await _refused_within_reach(replicas.second, signed_out) == 401
    assert (await replicas.second.get(ME, headers=bearer(removed))).status_code == 200  # another session
    await container.iam.identity.remove_member(owner, tenant_id, member.user_id)
    assert await _refused_within_reach(replicas.second, removed) == 401
