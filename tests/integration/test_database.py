"""Migrations and the unit of work on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db import migrate
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import current_revision, head_revision, upgrade_to_head
from neo_service_layer.kernel.db.tables import worker_heartbeats
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"), db_pool_size=3)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


def _row(worker_id: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"worker_id": worker_id, "hostname": "h", "pid": 1, "started_at": now, "last_seen_at": now}


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(worker_heartbeats))).scalar_one())


async def test_migrations_reach_head_and_are_idempotent(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is None
    assert await upgrade_to_head(engine) == head_revision()
    assert await upgrade_to_head(engine) == head_revision()
    assert await current_revision(engine) == head_revision()


async def test_a_database_at_the_head_is_not_migrated_again(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade_to_head(engine)
    runs: list[str] = []
    monkeypatch.setattr(migrate.command, "upgrade", lambda config, revision: runs.append(revision))
    assert await upgrade_to_head(engine) == head_revision()
    assert runs == []  # every process start checks; Alembic runs only when something is pending
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    await upgrade_to_head(engine)
    assert runs == ["head"]


async def test_unit_of_work_rolls_back_unless_committed(engine: AsyncEngine) -> None:
    await upgrade_to_head(engine)
    async with SqlUnitOfWork(engine) as uow:
        await uow.connection.execute(insert(worker_heartbeats).values(**_row("discarded")))
    assert await _count(engine) == 0

    async def fail_midway() -> None:
        async with SqlUnitOfWork(engine) as uow:
            await uow.connection.execute(insert(worker_heartbeats).values(**_row("failed")))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert await _count(engine) == 0

    async with SqlUnitOfWork(engine) as uow:
        await uow.connection.execute(insert(worker_heartbeats).values(**_row("kept")))
        await uow.commit()
    assert await _count(engine) == 1


async def test_unit_of_work_outside_context_is_refused(engine: AsyncEngine) -> None:
    uow = SqlUnitOfWork(engine)
    with pytest.raises(RuntimeError, match="outside"):
        _ = uow.connection
    with pytest.raises(RuntimeError, match="outside"):
        await uow.commit()


@pytest.mark.postgres
async def test_postgres_pool_settings_come_from_config(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    settings = make_settings(database_url=postgres_url, db_pool_size=4, db_max_overflow=2, db_pool_timeout=3)
    engine = create_engine(settings)
    try:
        pool = engine.pool
        assert pool.size() == 4  # type: ignore[attr-defined]
        assert pool._max_overflow == 2  # type: ignore[attr-defined]
        assert pool._timeout == 3  # type: ignore[attr-defined]
        assert engine.dialect.name == "postgresql"
        assert engine.url.drivername == "postgresql+asyncpg"
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_unit_of_work_sets_the_tenant_per_transaction(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    from sqlalchemy import text

    engine = create_engine(make_settings(database_url=postgres_url))
    try:
        async with SqlUnitOfWork(engine, tenant_id="tenant-a") as uow:
            value = (
                await uow.connection.execute(text("SELECT current_setting('app.tenant_id', true)"))
            ).scalar()
            assert value == "tenant-a"
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT current_setting('app.tenant_id', true)"))).scalar()
            assert after in (None, "")
    finally:
        await engine.dispose()


async def test_sqlite_pool_settings_come_from_config(make_settings: Callable[..., Settings]) -> None:
    # the library default (5) is too small for a loaded API, and an overflow connection is closed when it
    # comes back (a new SQLite connection costs a thread and its PRAGMAs): all of them are kept
    engine = create_engine(make_settings(db_pool_size=12, db_max_overflow=3))
    try:
        assert engine.pool.size() == 15  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_replaces_a_connection_the_server_closed(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    import asyncio

    import asyncpg
    from sqlalchemy import text

    engine = create_engine(make_settings(database_url=postgres_url, db_pool_size=1, db_max_overflow=0))
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(postgres_url)  # ends the pooled backend (as a restart would)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)  # the pooled connection reads the server's goodbye
        async with engine.connect() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
