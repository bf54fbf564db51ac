"""Shared fixtures: settings on a temporary data dir, and real PostgreSQL / Redis when configured.

Tests that need PostgreSQL or Redis read ``NSL_TEST_POSTGRES_URL`` / ``NSL_TEST_REDIS_URL``. Without
them they skip locally, and fail when ``CI=true`` (a CI run must never silently skip them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from neo_service_layer import bootstrap
from neo_service_layer.kernel.config import LogFormat, Settings
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.observability.logs import configure_logging

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that use RabbitMQ first, together. They take turns on the broker (a machine-wide lock:
    one of them restarts it) and one of them is the suite's longest (3-4 min); run in several processes
    (``make test``), the first process takes them in a row at the start, and the others do not wait on
    the lock behind it or finish the run alone with it."""
    items.sort(key=lambda item: "rabbitmq_url" not in getattr(item, "fixturenames", ()))


def _require(env: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if IN_CI:
        pytest.fail(f"{env} must be set in CI")
    pytest.skip(f"{env} not set")


@pytest.fixture(autouse=True, scope="session")
def _logging() -> None:
    """Route structlog through stdlib logging as the processes do, so ``caplog`` sees every event."""
    configure_logging("INFO", LogFormat.JSON)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their own settings; NSL_* variables of the developer's shell must not leak in."""
    for name in list(os.environ):
        if name.startswith("NSL_") and not name.startswith("NSL_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database the real migrations brought to the head once for the whole session."""
    path = tmp_path_factory.mktemp("sqlite-template") / "nsl.db"

    async def migrate() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(autouse=True)
def _sqlite_from_the_migrated_copy(monkeypatch: pytest.MonkeyPatch, _migrated_sqlite: Path) -> None:
    """An app or worker built in this process on a SQLite file that does not exist yet starts from a copy
    of the session's migrated database instead of running every migration again (about 0.1 s per app,
    a few minutes over the suite). Alembic then finds the head and does nothing; a file that exists
    (a test's own data, an older schema) is migrated as always, and so is every subprocess."""

    async def upgrade(engine: AsyncEngine) -> str:
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            target = Path(database)
            if target.parent.is_dir() and (not target.exists() or target.stat().st_size == 0):
                shutil.copyfile(_migrated_sqlite, target)
        return await upgrade_to_head(engine)

    monkeypatch.setattr(bootstrap, "upgrade_to_head", upgrade)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "env": "test"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def postgres_admin_url() -> str:
    return _require("NSL_TEST_POSTGRES_URL")


@pytest.fixture
def redis_url() -> str:
    return _require("NSL_TEST_REDIS_URL")


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"nsl_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_admin_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = _asyncpg_dsn(postgres_admin_url).rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(postgres_admin_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
