"""Invalidations between replicas over Redis pub/sub, with a liveness check so none is missed unseen.

Every replica subscribes to one channel; an invalidation is published as ``{"o": origin, "c": cache,
"t": [tags]}``. Pub/sub delivers at most once, so the bus is *healthy* only while subscribed and
while a PING sent every ``ping_seconds`` came back within ``stale_seconds``: otherwise the caches
bypass themselves (every lookup goes to the database) and, once subscribed again, start empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import structlog
from redis.asyncio import Redis

from neo_service_layer.kernel.cache.ports import Dropper
from neo_service_layer.kernel.tasks import cancel_and_wait

log = structlog.get_logger(__name__)


class RedisInvalidationBus:
    """Implements ``ports.InvalidationBus``; ``start`` runs the listener, ``aclose`` stops it."""

    def __init__(
        self,
        redis: Redis,
        channel: str,
        *,
        ping_seconds: float = 0.25,
        stale_seconds: float = 1.0,
        retry_seconds: float = 0.5,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._ping = ping_seconds
        self._stale = stale_seconds
        self._retry = retry_seconds
        self._origin = uuid.uuid4().hex
        self._droppers: dict[str, Dropper] = {}
        self._subscribed = False
        self._last_seen = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._subscribed_once = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, channel: str) -> RedisInvalidationBus:
        return cls(Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0), channel)

    @property
    def healthy(self) -> bool:
        return self._subscribed and time.monotonic() - self._last_seen < self._stale

    def register(self, cache_name: str, drop: Dropper) -> None:
        self._droppers[cache_name] = drop

    async def publish(self, cache_name: str, tags: tuple[str, ...]) -> None:
        message = json.dumps({"o": self._origin, "c": cache_name, "t": list(tags)})
        try:
            await self._redis.publish(self._channel, message)
        except Exception as exc:  # the write is committed; other replicas fall back to their TTL
            log.error("cache invalidation not published", cache=cache_name, tags=tags, error=str(exc))

    async def start(self, ready_within: float = 2.0) -> None:
        """Start listening; wait up to ``ready_within`` seconds for the first subscription."""
        self._task = asyncio.create_task(self._listen(), name="cache-invalidation-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed_once.wait(), ready_within)

    async def aclose(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        await self._redis.aclose()

    async def _listen(self) -> None:
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cache invalidation bus disconnected", error=str(exc))
            finally:
                self._subscribed = False
                self._drop_all()
            await asyncio.sleep(self._retry)

    async def _session(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            next_ping = 0.0
            while True:
                now = time.monotonic()
                if self._subscribed and now - self._last_seen >= self._stale:
                    raise ConnectionError("no answer from Redis within the staleness bound")
                if now >= next_ping:
                    await pubsub.ping()
                    next_ping = now + self._ping
                message = await pubsub.get_message(timeout=self._ping)
                if message is not None:
                    self._on_message(message)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self._drop_all()  # whatever was invalidated while we were away
            self._subscribed = True
            self._subscribed_once.set()
        if kind in ("subscribe", "pong", "message"):
            self._last_seen = time.monotonic()
        if kind != "message":
            return
        try:
            body = json.loads(message["data"])
            cache, tags, origin = str(body["c"]), tuple(str(t) for t in body["t"]), body["o"]
        except (ValueError, KeyError, TypeError):
            log.warning("malformed cache invalidation ignored")
            return
        drop = self._droppers.get(cache)
        if drop is not None and origin != self._origin:
            drop(tags)

    def _drop_all(self) -> None:
        for drop in self._droppers.values():
            drop(())
