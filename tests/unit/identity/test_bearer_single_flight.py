"""Concurrent misses for one credential share one check; a refusal is not shared (each is audited);
a cached credential near its expiry is checked again by one request while the others are served."""

from __future__ import annotations

import asyncio

import pytest

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.identity.rules.audit import Actions
from neo_service_layer.kernel.identity.rules.errors import InvalidApiKey
from neo_service_layer.kernel.identity.use_cases.bearer import BearerAuthenticator
from neo_service_layer.kernel.identity.use_cases.principal_cache import KeyEntry, PrincipalCaches, TokenEntry
from tests.scopes import CATALOGUE
from tests.unit.identity.conftest import PASSWORD, SUPER, World
from tests.unit.identity.fakes import FakeUnitOfWork


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _bearer(world: World, ticker: Ticker | None = None) -> tuple[BearerAuthenticator, list[str | None]]:
    opened: list[str | None] = []
    monotonic = ticker or Ticker()

    def uow(tenant_id: str | None) -> FakeUnitOfWork:
        opened.append(tenant_id)
        return FakeUnitOfWork(world.store, tenant_id)

    caches = PrincipalCaches(
        MemoryCache[KeyEntry]("api_key", ttl_seconds=60, max_entries=10, monotonic=monotonic),
        MemoryCache[TokenEntry]("access_token", ttl_seconds=60, max_entries=10, monotonic=monotonic),
    )
    bearer = BearerAuthenticator(
        uow=uow, box=world.box, codec=world.codec, audit=world.audit, clock=world.clock,
        policy=world.auth.policy, caches=caches,
    )  # fmt: skip
    return bearer, opened


async def test_concurrent_misses_share_one_check(world: World) -> None:
    tenant = await world.tenant("acme")
    await world.member(tenant, "dev", Role.DEVELOPER)
    token = (await world.auth.sign_in("dev", PASSWORD)).access_token
    bearer, opened = _bearer(world)
    principals = await asyncio.gather(*[bearer.authenticate(token) for _ in range(10)])
    assert {p.subject for p in principals} == {principals[0].subject}
    assert len(opened) == 1  # one database check for ten requests
    await bearer.authenticate(token)
    assert len(opened) == 1  # and none for the next: cached


async def test_a_refusal_is_not_shared(world: World) -> None:
    tenant = await world.tenant("acme")
    owner = Principal(
        tenant.id, "usr_owner", PrincipalKind.USER, frozenset({"owner"}), CATALOGUE.tenant_scopes
    )
    key, secret = await world.api_keys.create(owner, tenant.id, name="ci", scopes=["members:read"])
    await world.api_keys.revoke(SUPER, tenant.id, key.id)
    bearer, _ = _bearer(world)
    outcomes = await asyncio.gather(*[bearer.authenticate(secret) for _ in range(5)], return_exceptions=True)
    assert all(isinstance(o, Exception) for o in outcomes)
    refused = [a for a in world.audit.actions(tenant.id) if a[0] == Actions.API_KEY_REFUSED]
    assert len(refused) == 5


async def test_one_request_refreshes_a_credential_near_its_expiry(world: World) -> None:
    tenant = await world.tenant("acme")
    await world.member(tenant, "dev", Role.DEVELOPER)
    token = (await world.auth.sign_in("dev", PASSWORD)).access_token
    ticker = Ticker()
    bearer, opened = _bearer(world, ticker)
    await bearer.authenticate(token)
    ticker.now += 44  # 16 s of 60 left: not yet due
    await asyncio.gather(*[bearer.authenticate(token) for _ in range(10)])
    assert len(opened) == 1
    ticker.now += 2  # 14 s left: due
    principals = await asyncio.gather(*[bearer.authenticate(token) for _ in range(10)])
    assert {p.subject for p in principals} == {principals[0].subject}
    assert len(opened) == 2  # one check again for ten requests, none of the others waited for a miss
    ticker.now += 30  # past the old expiry, within the refreshed one
    await bearer.authenticate(token)
    assert len(opened) == 2


async def test_a_refresh_sees_a_revoked_key(world: World) -> None:
    tenant = await world.tenant("acme")
    owner = Principal(
        tenant.id, "usr_owner", PrincipalKind.USER, frozenset({"owner"}), CATALOGUE.tenant_scopes
    )
    key, secret = await world.api_keys.create(owner, tenant.id, name="ci", scopes=["members:read"])
    ticker = Ticker()
    bearer, opened = _bearer(world, ticker)
    await bearer.authenticate(secret)
    await world.api_keys.revoke(SUPER, tenant.id, key.id)  # on another process: this cache is not told
    await bearer.authenticate(secret)  # served from the cache, within its TTL
    ticker.now += 50  # due for its refresh
    with pytest.raises(InvalidApiKey):
        await bearer.authenticate(secret)
    assert len(opened) == 2
    refused = [a for a in world.audit.actions(tenant.id) if a[0] == Actions.API_KEY_REFUSED]
    assert len(refused) == 1
