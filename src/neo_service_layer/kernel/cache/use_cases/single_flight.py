"""One load at a time per key: concurrent misses wait for the first one's load instead of repeating it.

Used where a cached value expires under load (a credential's principal, a tenant's key catalogue): every
request in flight would otherwise read the database at once for the same value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable


class SingleFlight[K: Hashable, V]:
    """Runs one load per key at a time and shares its result with the callers that came meanwhile."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    def running(self, key: K) -> bool:
        """True while a load of ``key`` is in flight."""
        return key in self._running

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """``load()``, or the result of the load of ``key`` already in flight.

        Put the cache's generation in ``key`` (read before the miss), so that a caller arriving after
        an invalidation never joins a load begun before it. Only a success is shared: when the first
        load fails (or is cancelled) each waiter loads on its own, so that a refusal is each caller's,
        and audited for each.
        """
        pending = self._running.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled, not the first one
            except Exception:  # noqa: S110 - failed for the first caller: this one loads itself
                pass
            return await load()
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await load()
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" report when nobody waited
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._running[key]
        future.set_result(value)
        return value
