"""The key catalogue cache: what ``GET /keys`` shows is served from memory, every change is seen on
every replica through Redis, and signing never trusts it (a disabled key is refused at once)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, MovableClock, Tenant
from tests.http.keys.test_keys_api import create, sign
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess

pytestmark = pytest.mark.redis


async def counter(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(rf'^nsl_cache_{name}_total{{cache="key_catalogue"}} ([0-9.e+]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def listed(tenant: Tenant, client: httpx.AsyncClient) -> dict[str, str]:
    """Key id -> status as ``client``'s replica lists them."""
    response = await client.get("/api/v1/keys", headers=await tenant.headers("keys:read"))
    assert response.status_code == 200, response.text
    return {key["key_id"]: key["status"] for key in response.json()}


async def test_a_tenant_listing_is_served_from_the_cache(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    await listed(acme, api.client)
    hits = await counter(api.client, "hits")
    misses = await counter(api.client, "misses")
    assert await listed(acme, api.client) == {key["key_id"]: "active"}
    shown = await acme.call("GET", f"/api/v1/keys/{key['key_id']}", "keys:read")
    assert shown.status_code == 200
    assert await counter(api.client, "hits") == hits + 2
    assert await counter(api.client, "misses") == misses


@dataclass
class Replicas:
    first: httpx.AsyncClient
    second: httpx.AsyncClient
    tenant: Tenant


@pytest.fixture
async def replicas(
    api_settings: Callable[..., Settings],
    redis_url: str,
    clock: MovableClock,
    ensure_enclave: EnclaveProcess,
) -> AsyncIterator[Replicas]:
    shared: dict[str, Any] = {
        "redis_url": redis_url,
        "cache_invalidation_channel": f"nsl-test-cache-{uuid.uuid4().hex}",
        "key_cache_ttl_seconds": 3600,  # only an invalidation can make a replica read again
    }
    apps = [create_app(api_settings(**shared), clock=clock, migrate=i == 0) for i in range(2)]
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(app_client(apps[0]))
        second = await stack.enter_async_context(app_client(apps[1]))
        tenant = await Api(apps[0], first, apps[0].state.container.settings, ensure_enclave).tenant("acme")
        yield Replicas(first, second, tenant)


async def _seen(replicas: Replicas, expected: dict[str, str]) -> dict[str, str]:
    """Poll the second replica a bounded number of times until it lists ``expected``; the last list."""
    shown: dict[str, str] = {}
    for _ in range(50):
        shown = await listed(replicas.tenant, replicas.second)
        if shown == expected:
            break
        await asyncio.sleep(0.05)
    return shown


async def test_changes_through_one_replica_reach_the_others_cache(replicas: Replicas) -> None:
    tenant = replicas.tenant
    assert await listed(tenant, replicas.second) == {}  # cached empty on the second replica
    key = await create(tenant)  # through the first
    assert await _seen(replicas, {key["key_id"]: "active"}) == {key["key_id"]: "active"}
    disabled = await tenant.client.post(
        f"/api/v1/keys/{key['key_id']}/disable", headers=await tenant.headers("keys:admin")
    )
    assert disabled.status_code == 200, disabled.text
    assert await _seen(replicas, {key["key_id"]: "disabled"}) == {key["key_id"]: "disabled"}


async def test_signing_through_a_replica_with_a_cached_catalogue_refuses_a_disabled_key(
    replicas: Replicas,
) -> None:
    tenant = replicas.tenant
    key = await create(tenant)
    assert await _seen(replicas, {key["key_id"]: "active"}) == {key["key_id"]: "active"}
    disabled = await tenant.client.post(
        f"/api/v1/keys/{key['key_id']}/disable", headers=await tenant.headers("keys:admin")
    )
    assert disabled.status_code == 200
    on_second = Tenant(tenant.id, tenant.container, replicas.second, tenant.keys)
    refused = await sign(on_second, key["key_id"], b"after disable")  # no waiting for the invalidation
    assert refused.status_code == 409, refused.text
