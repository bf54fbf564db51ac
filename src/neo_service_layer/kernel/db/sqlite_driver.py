"""aiosqlite with one thread hop per statement instead of five, for the embedded SQLite.

aiosqlite runs each call on the connection's own thread; SQLAlchemy's adapter makes several calls per
statement (open a cursor, execute, fetch, close) and one more for the rollback that ends every unit of
work, each a wake-up of that thread and a hand-over of the GIL and back. Profiled under load, those
hand-overs were most of the CPU of a one-query request. Here a statement is executed, fetched and
closed in one call, and a commit or rollback with no transaction open costs no call at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite

type _Outcome = tuple[Any, int, int | None, list[Any]]


class OneHopConnection(aiosqlite.Connection):
    """An ``aiosqlite.Connection`` whose cursors do their work in a single call on its thread."""

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await self._call(self._conn.commit)

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await self._call(self._conn.rollback)

    async def _call[T](self, function: Callable[[], T]) -> T:
        return await self._execute(function)  # type: ignore[no-untyped-call, no-any-return]

    async def run(self, sql: str, parameters: Any, many: bool) -> _Outcome:
        """Execute (``executemany`` when ``many``), fetch every row and close, in one thread hop."""
        raw = self._conn

        def work() -> _Outcome:
            cursor = raw.cursor()
            try:
                if many:
                    cursor.executemany(sql, parameters)
                elif parameters is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql, parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        return await self._call(work)


class OneHopCursor:
    """The cursor SQLAlchemy's aiosqlite adapter drives: rows are fetched with the statement."""

    arraysize = 1

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = None) -> Self:
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.run(
            sql, parameters, many=False
        )
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> Self:
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.run(
            sql, parameters, many=True
        )
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


def connect(database: str | Path, **kwargs: Any) -> OneHopConnection:
    """Like ``aiosqlite.connect``; SQLAlchemy calls it through ``connect_args["async_creator_fn"]``."""
    kwargs["check_same_thread"] = False  # the event loop reads ``in_transaction`` between calls
    kwargs.pop("iter_chunk_size", None)

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(str(database), **kwargs)
        return connection

    connection = OneHopConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    return connection
