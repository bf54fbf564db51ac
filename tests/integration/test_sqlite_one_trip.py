"""SQLite statements make one trip to the connection's thread, and behave as with SQLAlchemy's adapter.

SQLAlchemy's aiosqlite adapter hands four calls per statement to the connection's thread (cursor,
execute, fetch, close) and one per commit or rollback even with no transaction open; the engine's
connection (``kernel/db/sqlite_connection.py``) makes one per statement and skips the empty ends.
These tests count the trips on a real file database and check that results, transactions and errors
are what SQLAlchemy's own adapter gives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine


class Trips:
    """Every call aiosqlite hands to a connection's thread, by the function's name."""

    def __init__(self) -> None:
        self.names: list[str] = []


@pytest.fixture
async def engine(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(database_url=f"sqlite:///{tmp_path / 'trips.db'}"))
    async with engine.begin() as conn:  # opens the connection (and its PRAGMAs) before any count
        await conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    recorded = Trips()
    handed = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        recorded.names.append(getattr(fn, "__name__", type(fn).__name__))
        return await handed(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return recorded


async def _names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT name FROM item ORDER BY id"))).scalars())


def _committed(engine: AsyncEngine) -> list[str]:
    """What another connection to the file reads: only what was committed."""
    with closing(sqlite3.connect(str(engine.url.database))) as other:
        return [name for (name,) in other.execute("SELECT name FROM item ORDER BY id")]


async def test_a_read_is_one_trip_with_no_rollback_after_it(engine: AsyncEngine, trips: Trips) -> None:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT 7 AS seven, 'x' AS letter"))).mappings().one()
    assert dict(row) == {"seven": 7, "letter": "x"}  # column names from the statement's description
    # SQLAlchemy's adapter: cursor, execute, fetchall, close, and the pool's rollback on return
    assert trips.names == ["_run"]


async def test_a_write_is_its_statements_and_one_commit(engine: AsyncEngine, trips: Trips) -> None:
    async with engine.begin() as conn:
        first = await conn.execute(text("INSERT INTO item (name) VALUES ('a')"))
        await conn.execute(text("INSERT INTO item (name) VALUES ('b')"))
    assert first.lastrowid == 1
    assert trips.names == ["_run", "_run", "commit"]
    assert _committed(engine) == ["a", "b"]


async def _write_then_fail(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO item (name) VALUES ('gone')"))
        raise RuntimeError("the unit of work fails after its write")


async def test_a_rolled_back_write_is_undone(engine: AsyncEngine, trips: Trips) -> None:
    with pytest.raises(RuntimeError):
        await _write_then_fail(engine)
    assert trips.names == ["_run", "rollback"]  # a transaction was open, so its rollback was sent
    assert await _names(engine) == []
    assert _committed(engine) == []


async def test_row_counts_many_rows_and_server_side_results(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        many = await conn.execute(
            text("INSERT INTO item (name) VALUES (:name)"), [{"name": n} for n in "cdefg"]
        )
        assert many.rowcount == 5  # executemany
        changed = await conn.execute(text("UPDATE item SET name = name || '!' WHERE name IN ('c', 'd')"))
        assert changed.rowcount == 2
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT name FROM item ORDER BY id"))
        assert [r[0] for r in result.fetchmany(2)] == ["c!", "d!"]
        assert [r[0] for r in result.fetchall()] == ["e", "f", "g"]
        streamed = await conn.stream(text("SELECT name FROM item ORDER BY id"))  # SQLAlchemy's own cursor
        assert [r[0] async for r in streamed] == ["c!", "d!", "e", "f", "g"]


async def test_errors_are_sqlalchemys_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO item (name) VALUES ('once')"))
    with pytest.raises(exc.IntegrityError, match=r"UNIQUE constraint failed: item\.name"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO item (name) VALUES ('once')"))
    with pytest.raises(exc.OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM missing"))
    assert await _names(engine) == ["once"]
