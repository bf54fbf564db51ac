"""One head read shared by every poller of a process: each service's watcher, its outbox relay.

Each on-chain service polls the chain a tenth of a block time apart, and each poll starts with the head
height. Seven services asked the node for it some 70 times a second at 1 s blocks, each a JSON-RPC round
trip the worker paid in CPU (part of its 0.24-0.32 CPU-seconds per second of idle polling, measured in
``bench/RESULTS.md``). Here a height read less than ``max_age`` ago is answered from memory, and callers
arriving while a read is in flight wait for that read instead of starting their own.

``max_age`` is half the poll interval, so a new block is still seen within about one poll interval. Only
the head is shared; blocks, states and everything else a decision rests on are read from the node as
before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class SharedHeight:
    """``read`` answers with a height read less than ``max_age`` seconds ago, or the read in flight.

    ``counted(hit)`` is called once per ``read``: ``True`` when answered without a read of its own.
    """

    def __init__(
        self,
        source: Callable[[], Awaitable[int]],
        max_age: float,
        *,
        counted: Callable[[bool], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._max_age = max_age
        self._counted = counted
        self._monotonic = monotonic
        self._value: int | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[int] | None = None

    async def read(self) -> int:
        if self._value is not None and self._monotonic() - self._read_at < self._max_age:
            self._count(True)
            return self._value
        if (reading := self._reading) is not None:
            await asyncio.wait([reading])  # not cancelled with this caller: the reader owns it
            if not reading.cancelled():
                self._count(True)
                return reading.result()  # the reader's error, if it failed
            return await self.read()  # the reader was cancelled: read again
        self._count(False)
        started = self._monotonic()
        reading = self._reading = asyncio.get_running_loop().create_future()
        try:
            value = await self._source()
        except Exception as exc:
            reading.set_exception(exc)
            reading.exception()  # marked retrieved: no "never retrieved" warning when nobody waited
            raise
        except BaseException:
            reading.cancel()
            raise
        finally:
            self._reading = None
        reading.set_result(value)
        self._value, self._read_at = value, started  # aged from when the read began
        return value

    def _count(self, hit: bool) -> None:
        if self._counted is not None:
            self._counted(hit)
