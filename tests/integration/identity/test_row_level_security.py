"""PostgreSQL row-level security: the second wall holds even when a query forgets the tenant filter."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.identity.adapters.tables import (
    TENANT_TABLES,
    api_keys,
    audit_events,
    memberships,
)
from neo_service_layer.kernel.identity.adapters.unit_of_work import SqlIdentityUnitOfWork
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, Role
from tests.integration.identity.conftest import APP_ROLE
from tests.scopes import ALL_SCOPES

pytestmark = pytest.mark.postgres

ROOT = Principal(PLATFORM_TENANT, "usr_root", PrincipalKind.USER, frozenset({"superadmin"}), ALL_SCOPES)
PASSWORD = "a long enough pass phrase"


async def _two_tenants(container: Container) -> tuple[str, str]:
    iam = container.iam
    ids = []
    for name in ("alpha", "bravo"):
        tenant = await iam.identity.create_tenant(ROOT, name)
        await iam.identity.add_member(
            ROOT, tenant.id, username=f"{name}-dev", role=Role.DEVELOPER, password=PASSWORD
        )
        for i in range(2):
            await iam.api_keys.create(ROOT, tenant.id, name=f"{name}-{i}", scopes=["keys:read"])
        await iam.auth.sign_in(f"{name}-dev", PASSWORD)  # a refresh token row
        ids.append(tenant.id)
    return ids[0], ids[1]


async def test_the_app_connects_as_a_role_that_cannot_bypass_rls(postgres_container: Container) -> None:
    async with postgres_container.engine.connect() as conn:
        role = (await conn.execute(text("SELECT current_user"))).scalar_one()
        flags = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        owners = (
            (
                await conn.execute(
                    text("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = ANY(:names)"),
                    {"names": list(TENANT_TABLES)},
                )
            )
            .scalars()
            .all()
        )
        forced = (
            await conn.execute(
                text(
                    "SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class"
                    " WHERE relname = ANY(:n)"
                ),
                {"n": list(TENANT_TABLES)},
            )
        ).scalar_one()
    assert role == APP_ROLE
    for _ in range(3):  # still the app role after transactions ended and connections went back to the pool
        async with SqlUnitOfWork(postgres_container.engine, "t") as uow:
            assert (await uow.connection.execute(text("SELECT current_user"))).scalar_one() == APP_ROLE
    assert tuple(flags) == (False, False)
    assert APP_ROLE not in owners
    assert forced is True


async def test_a_query_without_the_tenant_filter_sees_only_the_current_tenant(
    postgres_container: Container,
) -> None:
    alpha, bravo = await _two_tenants(postgres_container)
    for tenant, other in ((alpha, bravo), (bravo, alpha)):
        async with SqlUnitOfWork(postgres_container.engine, tenant) as uow:
            # deliberately no WHERE tenant_id = ...
            keys = (await uow.connection.execute(select(api_keys.c.tenant_id))).scalars().all()
            members = (await uow.connection.execute(select(memberships.c.tenant_id))).scalars().all()
            events = (await uow.connection.execute(select(audit_events.c.tenant_id))).scalars().all()
            tokens = (
                (await uow.connection.execute(text("SELECT tenant_id FROM refresh_tokens"))).scalars().all()
            )
        assert set(keys) == {tenant}
        assert len(keys) == 2
        assert set(members) == {tenant}
        assert set(events) == {tenant}
        assert set(tokens) == {tenant}
        assert other not in keys
    async with SqlUnitOfWork(postgres_container.engine, None) as uow:  # no tenant: nothing
        assert (await uow.connection.execute(select(api_keys))).all() == []


async def test_the_owner_would_see_everything(postgres_container: Container, postgres_url: str) -> None:
    """Sanity check of the test itself: without the app role (superuser), both tenants' rows show."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from neo_service_layer.kernel.db.engine import normalise_url

    alpha, bravo = await _two_tenants(postgres_container)
    owner = create_async_engine(normalise_url(postgres_url))
    try:
        async with owner.connect() as conn:
            tenants = set((await conn.execute(select(api_keys.c.tenant_id))).scalars().all())
    finally:
        await owner.dispose()
    assert tenants == {alpha, bravo}


async def test_writes_into_another_tenant_are_refused(postgres_container: Container) -> None:
    alpha, bravo = await _two_tenants(postgres_container)
    async with SqlUnitOfWork(postgres_container.engine, alpha) as uow:
        result = await uow.connection.execute(update(api_keys).values(name="renamed"))
        assert result.rowcount == 2  # only alpha's two keys
        await uow.commit()
    async with SqlUnitOfWork(postgres_container.engine, alpha) as uow:
        with pytest.raises(DBAPIError, match="row-level security"):
            await uow.connection.execute(
                insert(memberships).values(
                    tenant_id=bravo, user_id="usr_x", role="owner", created_at=text("now()")
                )
            )


async def test_the_audit_log_is_append_only_for_the_app(postgres_container: Container) -> None:
    alpha, _ = await _two_tenants(postgres_container)
    for statement in (update(audit_events).values(outcome="failure"), delete(audit_events)):
        async with SqlUnitOfWork(postgres_container.engine, alpha) as uow:
            with pytest.raises(DBAPIError, match="permission denied"):
                await uow.connection.execute(statement)


async def test_look_ups_before_the_tenant_is_known_see_one_row(postgres_container: Container) -> None:
    alpha, bravo = await _two_tenants(postgres_container)
    keys = await postgres_container.iam.api_keys.list_keys(ROOT, alpha)
    async with SqlIdentityUnitOfWork(postgres_container.engine, None) as uow:
        found = await uow.api_keys.by_prefix(keys[0].prefix)
        assert found is not None
        assert found.id == keys[0].id
        # the narrow policy shows the presented prefix's row only, not the tenant's other rows
        visible = (await uow.connection.execute(select(api_keys.c.id))).scalars().all()
        assert visible == [keys[0].id]
    async with SqlIdentityUnitOfWork(postgres_container.engine, None) as uow:
        user = await uow.users.by_username("alpha-dev")
        assert user is not None
        mine = await uow.memberships.for_user(user.id)
        assert [m.tenant_id for m in mine] == [alpha]
        everyone = (await uow.connection.execute(select(memberships.c.tenant_id))).scalars().all()
        assert bravo not in everyone
