"""Containers on real databases: SQLite (a file) and PostgreSQL (fresh database, app role with RLS)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container
from tests.unit.identity.fakes import FakeClock

FAST_HASHING: dict[str, Any] = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 64,
    "password_hash_parallelism": 1,
}
APP_ROLE = "nsl_app"  # the migration's default role name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sqlite_container(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> AsyncIterator[Container]:
    async with open_container(make_settings(**FAST_HASHING), "api", migrate=True, clock=clock) as container:
        yield container


@pytest.fixture
async def postgres_container(
    make_settings: Callable[..., Settings], postgres_url: str, clock: FakeClock
) -> AsyncIterator[Container]:
    settings = make_settings(database_url=postgres_url, db_app_role=APP_ROLE, **FAST_HASHING)
    async with open_container(settings, "api", migrate=True, clock=clock) as container:
        yield container


@pytest.fixture(params=["sqlite", "postgres"])
async def container(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], clock: FakeClock
) -> AsyncIterator[Container]:
    """The same tests on both databases (PostgreSQL through the RLS-bound application role)."""
    if request.param == "sqlite":
        async with open_container(make_settings(**FAST_HASHING), "api", migrate=True, clock=clock) as opened:
            yield opened
        return
    async with fresh_postgres(require_env("NSL_TEST_POSTGRES_URL")) as url:
        settings = make_settings(database_url=url, db_app_role=APP_ROLE, **FAST_HASHING)
        async with open_container(settings, "api", migrate=True, clock=clock) as opened:
            yield opened


@asynccontextmanager
async def fresh_postgres(admin_url: str) -> AsyncIterator[str]:
    """Like the shared ``postgres_url`` fixture, usable from a parametrised fixture."""
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"nsl_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{dsn.rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{name} must be set in CI")
    pytest.skip(f"{name} not set")
