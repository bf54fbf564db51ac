"""A process hears of new tenant events at their commit (PostgreSQL only).

``publish`` sends ``NOTIFY`` on ``EVENTS_CHANNEL`` in the producer's transaction, the tenant's id as
the payload; PostgreSQL delivers it when that transaction commits, and never for one rolled back.
:class:`EventListener` holds one connection that listens and rings the process's
:class:`~neo_service_layer.kernel.events.bell.EventBell`: in the worker the subscriptions relay fans
the events out at once instead of at its next poll, in the API the event streams read them at once.
The polls stay as the backstop: a notification lost while the connection was down delays the events
to the next poll, never loses them; the listener reconnects (the worker's ``events-listener`` job,
the API's :func:`listening` task) and rings once after each (re)connection.

SQLite has no notifications: there the relay and the streams poll, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.events.adapters import EVENTS_CHANNEL
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.tasks import cancel_and_wait
from neo_service_layer.kernel.worker.jobs import PeriodicJob

log = get_logger("nsl.events")

#: how often the listener's job makes sure its connection is alive (and reconnects it)
LISTEN_CHECK_EVERY = timedelta(seconds=2)


class EventListener:
    """One connection of ``engine``'s pool, taken out of it while listening, closed (never returned
    to the pool with its ``LISTEN``) when it dies or the worker stops."""

    def __init__(self, engine: AsyncEngine, heard: Callable[[str | None], None]) -> None:
        self._engine = engine
        self._ring = heard
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # asyncpg's connection (SQLAlchemy types it Any)
        #: how many times it connected: a reconnection is one more
        self.connections = 0

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def ensure(self) -> None:
        """Listen, on a new connection if the last one died; ring once when (re)connected: events
        committed while nobody listened are not announced again."""
        if self.listening:
            return
        await self.close()
        connection = await self._engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(EVENTS_CHANNEL, self._heard)
        except BaseException:
            await connection.invalidate()
            await connection.close()
            raise
        self._connection, self._driver = connection, driver
        self.connections += 1
        self._ring(None)

    def _heard(self, _connection: object, _pid: int, _channel: str, tenant_id: str) -> None:
        self._ring(tenant_id or None)

    async def close(self) -> None:
        """Close the listening connection (invalidated: the pool never hands out a listening one)."""
        connection, self._connection, self._driver = self._connection, None, None
        if connection is None:
            return
        try:
            await connection.invalidate()
        finally:
            await connection.close()


def listens(engine: AsyncEngine, pool_capacity: int) -> bool:
    """Whether a process listens: on PostgreSQL, when its pool has a connection to spare for it (a pool
    of one would be held by the listener and starve every request; such a process polls)."""
    return engine.dialect.name == "postgresql" and pool_capacity >= 2


def listen_job(engine: AsyncEngine, heard: Callable[[str | None], None]) -> PeriodicJob:
    """The worker's ``events-listener`` job: keeps :class:`EventListener` connected."""
    listener = EventListener(engine, heard)
    return PeriodicJob("events-listener", LISTEN_CHECK_EVERY, listener.ensure, close=listener.close)


@contextlib.asynccontextmanager
async def listening(engine: AsyncEngine, heard: Callable[[str | None], None]) -> AsyncIterator[EventListener]:
    """The API's listener, connected before the block starts when the database answers (so a stream
    opened at once hears the first commit); a task keeps it connected until the block ends."""
    listener = EventListener(engine, heard)
    failing = False

    async def connect() -> None:
        """One try; a failure is one warning until it listens again (the streams poll meanwhile)."""
        nonlocal failing
        try:
            await listener.ensure()
        except Exception as exc:
            if not failing:
                log.warning("not listening for new events; event streams poll", reason=type(exc).__name__)
            failing = True
        else:
            failing = False

    await connect()  # the database away: the task connects it later

    async def keep() -> None:
        while True:
            await asyncio.sleep(LISTEN_CHECK_EVERY.total_seconds())
            await connect()

    task = asyncio.create_task(keep(), name="events-listener")
    try:
        yield listener
    finally:
        await cancel_and_wait(task)
        await listener.close()
