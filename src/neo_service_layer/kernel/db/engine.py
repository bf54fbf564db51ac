"""Creating the async SQLAlchemy engine for SQLite (embedded) or PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db import sqlite_connection


def normalise_url(url: str) -> str:
    """Use the async drivers whatever the operator wrote (``postgresql://`` -> ``+asyncpg``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """Engine with the pool settings from config; SQLite gets WAL, foreign keys and a busy timeout."""
    target = normalise_url(url or settings.effective_database_url)
    if target.startswith("sqlite"):
        database = make_url(target).database
        pool: dict[str, Any] = {}
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # as many connections as PostgreSQL may have, all kept: an overflow connection is closed when
            # it comes back, and a SQLite one costs a new thread, the file opened and the PRAGMAs each time
            # (16 signing requests at once: 7 % of the API's CPU in thread starts alone)
            pool = {
                "pool_size": settings.db_pool_size + settings.db_max_overflow,
                "max_overflow": 0,
                "pool_timeout": settings.db_pool_timeout,
            }
        engine = create_async_engine(target, connect_args={"timeout": settings.db_connect_timeout}, **pool)
        event.listen(engine.sync_engine, "do_connect", _sqlite_open)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": {"application_name": "neo-service-layer"},
    }
    engine = create_async_engine(
        target,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect check on checkout, without a round trip.

    ``pool_pre_ping`` costs three round trips per checkout on asyncpg (BEGIN, ``;``, ROLLBACK). An
    asyncpg connection reads its socket all the time, so a server restart or a terminated backend has
    closed it by the time it is checked out again; the pool then replaces it (``DisconnectionError``).
    """
    if record.driver_connection.is_closed():
        raise exc.DisconnectionError("the pooled PostgreSQL connection was closed by the server")


def _sqlite_open(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """A connection with one thread trip per statement, opened so that a cancellation cannot leak it,
    with the URL's arguments (``sqlite_connection``)."""
    return sqlite_connection.connect(dialect.dbapi, *cargs, **cparams)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # aiosqlite wraps sqlite3; PRAGMAs go through its sync cursor facade.
    cursor = dbapi_connection.cursor()
    try:
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()
