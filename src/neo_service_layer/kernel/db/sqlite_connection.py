"""SQLAlchemy's aiosqlite connection with one trip to the connection's thread per statement.

aiosqlite runs every ``sqlite3`` call on the connection's own thread; each call is a hand-off there
and a wake-up of the event loop back. SQLAlchemy's adapter makes four per statement (open a cursor,
execute, fetch the rows, close the cursor), and one more per commit or rollback even when there is no
transaction to end. A signing request made ten of them; cutting seven took 0.2-0.3 ms of the API's
1.1-1.5 ms of CPU per signature on SQLite (``bench/RESULTS.md``, #18).

Here a statement is opened, executed, fetched and closed in one call on that thread; its description,
row count and last row id come back with the rows. A commit or rollback outside a transaction is
skipped: ``sqlite3`` itself does nothing then (the connections are in its legacy transaction control,
which begins a transaction before a data change only). ``in_transaction`` only reads SQLite's
autocommit flag and, unlike most of a ``sqlite3`` connection, may be read from another thread; no
statement of the connection is running when SQLAlchemy ends a transaction. Server-side cursors
(``stream``) are SQLAlchemy's own.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncIODBAPIConnection
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.util import EMPTY_DICT, await_

from neo_service_layer.kernel.db.sqlite_open import open_connection

type _Description = tuple[tuple[Any, ...], ...] | None


class _Outcome:
    """What one statement left behind: the cursor's attributes and all its rows."""

    __slots__ = ("description", "lastrowid", "rowcount", "rows")

    def __init__(self, cursor: sqlite3.Cursor, rows: list[Any]) -> None:
        self.description: _Description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid: Any = cursor.lastrowid  # an int, or None before any insert (as sqlite3 gives it)
        self.rows = rows


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the whole statement, cursor closed before returning."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        return _Outcome(cursor, cursor.fetchall() if cursor.description else [])
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement runs in one trip; it holds the rows, not an open ``sqlite3`` cursor."""

    __slots__ = ("_arraysize", "_outcome")
    # no aiosqlite cursor stays open, so closing this one has nothing to hand to the thread
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # closing sees None: no sqlite3 cursor to close
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._outcome: _Outcome | None = None
        self._arraysize = 1  # sqlite3's default

    @property
    def description(self) -> _Description:
        return self._outcome.description if self._outcome else None

    @property
    def rowcount(self) -> int:
        return self._outcome.rowcount if self._outcome else -1

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def lastrowid(self) -> int:
        return self._outcome.lastrowid if self._outcome else None  # type: ignore[return-value]

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._submit(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._submit(operation, seq_of_parameters, many=True)

    def _submit(self, operation: str, parameters: Any, *, many: bool) -> None:
        try:
            await_(self._in_one_trip(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _in_one_trip(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await self._connection._execute(
                _run, self._connection._conn, operation, parameters, many
            )
        self._outcome = outcome
        self._rows = deque(outcome.rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with :class:`OneTripCursor` and no trip to end no transaction."""

    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()

    def _in_transaction(self) -> bool:
        raw = self._connection._connection  # None once closed, where the base class does nothing either
        return raw is not None and raw.in_transaction


def connect(dbapi: Any, *args: Any, **kwargs: Any) -> OneTripConnection:
    """Open a connection (see :mod:`.sqlite_open`) and adapt it; called in SQLAlchemy's greenlet."""
    connection: AsyncIODBAPIConnection = await_(open_connection(*args, **kwargs))  # type: ignore[assignment]
    return OneTripConnection(dbapi, connection)
