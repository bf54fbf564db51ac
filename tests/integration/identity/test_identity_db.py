"""Identity services over real SQLite and PostgreSQL (through the RLS-bound application role)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.db.engine import normalise_url
from neo_service_layer.kernel.identity.adapters.tables import api_keys, audit_events
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, Role
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    InvalidApiKey,
    InvalidCredentials,
    RefreshReuseDetected,
    TokenRevoked,
)
from neo_service_layer.kernel.identity.rules.rate_limits import SignInThrottled
from neo_service_layer.services.keys.scopes import KEYS_SIGN
from tests.scopes import ALL_SCOPES
from tests.unit.identity.fakes import FakeClock

ROOT = Principal(PLATFORM_TENANT, "usr_root", PrincipalKind.USER, frozenset({"superadmin"}), ALL_SCOPES)
PASSWORD = "a long enough pass phrase"


async def test_sign_in_refresh_and_reuse_detection(container: Container, clock: FakeClock) -> None:
    iam = container.iam
    acme = await iam.identity.create_tenant(ROOT, "acme")
    await iam.identity.add_member(ROOT, acme.id, username="dev", role=Role.DEVELOPER, password=PASSWORD)
    issued = await iam.auth.sign_in("dev", PASSWORD)
    principal = await iam.auth.authenticate(issued.access_token)
    assert principal.tenant_id == acme.id
    assert issued.refresh_token
    clock.advance(minutes=1)
    rotated = await iam.auth.refresh(issued.refresh_token)
    assert rotated.refresh_token
    with pytest.raises(RefreshReuseDetected):
        await iam.auth.refresh(issued.refresh_token)
    with pytest.raises(TokenRevoked):
        await iam.auth.refresh(rotated.refresh_token)
    await iam.auth.logout(await iam.auth.authenticate(rotated.access_token))
    with pytest.raises(TokenRevoked):
        await iam.auth.authenticate(rotated.access_token)


async def test_the_sign_in_throttle_is_stored_per_account_and_client(
    container: Container, clock: FakeClock
) -> None:
    iam = container.iam
    acme = await iam.identity.create_tenant(ROOT, "acme")
    await iam.identity.add_member(ROOT, acme.id, username="dev", role=Role.DEVELOPER, password=PASSWORD)
    attacker = RequestMeta(client_ip="198.51.100.66")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await iam.auth.sign_in("dev", "not the password!!", meta=attacker)
    with pytest.raises(SignInThrottled) as throttled:
        await iam.auth.sign_in("dev", PASSWORD, meta=attacker)
    assert throttled.value.retry_after == 1
    assert await iam.auth.sign_in("dev", PASSWORD, meta=RequestMeta(client_ip="192.0.2.10"))
    clock.advance(seconds=1)
    assert await iam.auth.sign_in("dev", PASSWORD, meta=attacker)  # waited, then succeeded


async def test_disable_and_removal_end_sessions_and_keys(container: Container) -> None:
    iam = container.iam
    a = await iam.identity.create_tenant(ROOT, "alpha")
    b = await iam.identity.create_tenant(ROOT, "beta")
    member = await iam.identity.add_member(ROOT, a.id, username="dev", role=Role.DEVELOPER, password=PASSWORD)
    await iam.identity.add_member(ROOT, b.id, username="dev", role=Role.DEVELOPER)
    in_a = await iam.auth.sign_in("dev", PASSWORD, tenant="alpha")
    in_b = await iam.auth.sign_in("dev", PASSWORD, tenant="beta")
    _, key_a = await iam.api_keys.create(
        await iam.auth.authenticate(in_a.access_token), a.id, name="ci", scopes=[KEYS_SIGN]
    )
    _, key_b = await iam.api_keys.create(
        await iam.auth.authenticate(in_b.access_token), b.id, name="ci", scopes=[KEYS_SIGN]
    )
    assert in_a.refresh_token
    assert in_b.refresh_token
    await iam.identity.remove_member(ROOT, a.id, member.user_id)
    with pytest.raises(TokenRevoked):
        await iam.auth.authenticate(in_a.access_token)
    with pytest.raises(TokenRevoked):
        await iam.auth.refresh(in_a.refresh_token)
    with pytest.raises(InvalidApiKey):
        await iam.auth.authenticate(key_a)
    assert (await iam.auth.authenticate(key_b)).tenant_id == b.id  # other tenant untouched
    await iam.identity.disable_user(ROOT, member.user_id)
    with pytest.raises(TokenRevoked):
        await iam.auth.authenticate(in_b.access_token)
    with pytest.raises(TokenRevoked):
        await iam.auth.refresh(in_b.refresh_token)
    with pytest.raises(InvalidApiKey):
        await iam.auth.authenticate(key_b)


async def test_api_keys_by_prefix_touch_and_revoke(container: Container, clock: FakeClock) -> None:
    iam = container.iam
    acme = await iam.identity.create_tenant(ROOT, "acme")
    key, secret = await iam.api_keys.create(ROOT, acme.id, name="ci", scopes=["keys:read", "keys:sign"])
    principal = await iam.auth.authenticate(secret)
    assert principal.scopes == {"keys:read", "keys:sign"}
    listed = await iam.api_keys.list_keys(ROOT, acme.id)
    assert listed[0].last_used_at == clock.now()
    await iam.api_keys.revoke(ROOT, acme.id, key.id)
    with pytest.raises(InvalidApiKey):
        await iam.auth.authenticate(secret)


async def test_concurrent_audit_appends_do_not_fork_the_chain(container: Container) -> None:
    log = container.iam.audit_log
    acme = await container.iam.identity.create_tenant(ROOT, "acme")

    async def append(i: int) -> int:
        entry = await log.record(AuditRecord(acme.id, f"user:u{i}", "test.event", Outcome.SUCCESS))
        return entry.seq

    seqs = await asyncio.gather(*(append(i) for i in range(25)))
    assert sorted(seqs) == list(range(2, 27))  # seq 1 is tenant.create
    count, broken = await log.verify(acme.id)
    assert (count, broken) == (26, None)


async def test_group_commit_keeps_each_tenant_chain_contiguous(container: Container) -> None:
    log = container.iam.audit_log
    tenants = [await container.iam.identity.create_tenant(ROOT, name) for name in ("north", "south")]
    records = [AuditRecord(tenants[i % 2].id, f"user:u{i}", "test.event", Outcome.SUCCESS) for i in range(60)]
    entries = await asyncio.gather(*(log.record(r) for r in records))
    for tenant in tenants:
        seqs = sorted(e.seq for e in entries if e.tenant_id == tenant.id)
        assert seqs == list(range(2, 32))  # seq 1 is tenant.create
        assert await log.verify(tenant.id) == (31, None)
    assert [e.actor for e in entries] == [r.actor for r in records]


async def test_verify_names_the_first_altered_entry(container: Container) -> None:
    log = container.iam.audit_log
    acme = await container.iam.identity.create_tenant(ROOT, "acme")
    for i in range(4):
        await log.record(AuditRecord(acme.id, f"user:u{i}", "test.event", Outcome.SUCCESS))
    # tamper as the owner (the application role may not UPDATE audit entries at all)
    owner = create_async_engine(normalise_url(container.settings.effective_database_url))
    try:
        async with owner.begin() as conn:
            await conn.execute(
                update(audit_events)
                .where(audit_events.c.tenant_id == acme.id, audit_events.c.seq == 3)
                .values(outcome="failure")
            )
    finally:
        await owner.dispose()
    count, broken = await log.verify(acme.id)
    assert broken is not None
    assert broken.seq == 3
    assert count == 2


async def test_secrets_are_not_stored_in_the_clear(container: Container) -> None:
    iam = container.iam
    acme = await iam.identity.create_tenant(ROOT, "acme")
    _, secret = await iam.api_keys.create(ROOT, acme.id, name="ci", scopes=["keys:read"])
    await iam.codec.ensure_key()
    async with container.unit_of_work(acme.id) as uow:
        stored = (await uow.connection.execute(select(api_keys.c.secret_hash))).scalar_one()
        keys = (await uow.connection.execute(text("SELECT private_key_sealed FROM signing_keys"))).all()
    assert secret.split("_", 2)[2] not in stored
    assert keys
    for (sealed,) in keys:
        assert b"PRIVATE KEY" not in bytes(sealed)
