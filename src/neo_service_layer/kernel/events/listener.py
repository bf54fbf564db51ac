"""The worker hears of new tenant events at their commit (PostgreSQL only).

``publish`` sends ``NOTIFY`` on ``EVENTS_CHANNEL`` in the producer's transaction (payload empty: the
relay reads every tenant behind); PostgreSQL delivers it when that transaction commits, and never for
one rolled back. :class:`EventListener` holds one connection that listens and sets the worker's
``new_events`` wake, so the subscriptions relay fans the events out at once instead of at its next
poll. The poll stays as the backstop: a notification lost while the connection was down delays the
events to the next poll, never loses them; the listener's job reconnects and wakes the relay once
after each (re)connection.

SQLite has no notifications: there the relay polls, as before.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.events.adapters import EVENTS_CHANNEL
from neo_service_layer.kernel.worker.jobs import PeriodicJob

#: how often the listener's job makes sure its connection is alive (and reconnects it)
LISTEN_CHECK_EVERY = timedelta(seconds=2)


class EventListener:
    """One connection of ``engine``'s pool, taken out of it while listening, closed (never returned
    to the pool with its ``LISTEN``) when it dies or the worker stops."""

    def __init__(self, engine: AsyncEngine, wake: asyncio.Event) -> None:
        self._engine = engine
        self._wake = wake
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # asyncpg's connection (SQLAlchemy types it Any)

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def ensure(self) -> None:
        """Listen, on a new connection if the last one died; wake the relay once when (re)connected:
        events committed while nobody listened are not announced again."""
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
        self._wake.set()

    def _heard(self, *_notification: object) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Close the listening connection (invalidated: the pool never hands out a listening one)."""
        connection, self._connection, self._driver = self._connection, None, None
        if connection is None:
            return
        try:
            await connection.invalidate()
        finally:
            await connection.close()


def listen_job(engine: AsyncEngine, wake: asyncio.Event) -> PeriodicJob:
    """The worker's ``events-listener`` job: keeps :class:`EventListener` connected."""
    listener = EventListener(engine, wake)
    return PeriodicJob("events-listener", LISTEN_CHECK_EVERY, listener.ensure, close=listener.close)
