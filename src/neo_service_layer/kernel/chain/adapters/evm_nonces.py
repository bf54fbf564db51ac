"""Nonces per sender address for EVM transactions sent by this process.

One lock per sender: a nonce is taken and its transaction broadcast under the lock, so two sends of one
sender never get the same nonce. The next nonce is the larger of what this process used and what the
node counts as pending (``eth_getTransactionCount(address, "pending")``), so transactions sent by
another process, or before a restart, are never overwritten. A send whose outcome is unknown (no
endpoint answered) forgets the local count: the next send asks the node again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Sender:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_nonce: int | None = None


class NonceKeeper:
    """Hands out nonces per sender; ``pending_count`` reads the node's pending transaction count."""

    def __init__(self, pending_count: Callable[[str], Awaitable[int]]) -> None:
        self._pending_count = pending_count
        self._senders: dict[str, _Sender] = {}

    @asynccontextmanager
    async def reserve(self, address: str) -> AsyncIterator[NonceReservation]:
        """The sender's next nonce, held until the block ends; ``used()`` marks it broadcast."""
        sender = self._senders.setdefault(address.lower(), _Sender())
        async with sender.lock:
            on_chain = await self._pending_count(address)
            local = sender.next_nonce
            reservation = NonceReservation(on_chain if local is None else max(local, on_chain))
            try:
                yield reservation
            except BaseException:
                sender.next_nonce = None  # unknown outcome: ask the node next time
                raise
            if reservation.broadcast:
                sender.next_nonce = reservation.nonce + 1


@dataclass
class NonceReservation:
    nonce: int
    broadcast: bool = False

    def used(self) -> None:
        self.broadcast = True
