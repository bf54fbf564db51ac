"""Watching one chain's message gateway: new outbound messages, executions of inbound ones, stored receipts.

Polling with a durable cursor like the kernel's request watcher (``kernel.chain.use_cases.watcher``): the
head (an EVM source counts its confirmations), each block after the cursor read and applied with the
cursor move in one database transaction, at most ``max_blocks`` per poll; a block read twice changes
nothing. The chain-specific part is ``decode``: the gateway's notifications (N3) or logs (EVM) as
``Sent`` / ``Executed`` / ``ReceiptStored``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from neo_service_layer.kernel.chain.ports.chain import BlockSource, ChainEvent
from neo_service_layer.kernel.chain.rules import next_scan
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.crosschain.rules import GatewayEvent

#: a gateway's events of one block as the service's facts
type GatewayDecoder = Callable[[Sequence[ChainEvent]], list[GatewayEvent]]


class WatchStore(Protocol):
    async def cursor(self, name: str) -> int | None: ...

    async def apply_block(
        self, cursor_name: str, block: int, events: Sequence[GatewayEvent], now: datetime
    ) -> int: ...


class GatewayWatcher:
    """Reads one gateway's blocks in order and records what they say."""

    def __init__(
        self,
        source: BlockSource,
        store: WatchStore,
        clock: Clock,
        *,
        chain_id: int,
        gateway: str,
        decode: GatewayDecoder,
        start_block: int | None,
        max_blocks: int = 100,
    ) -> None:
        self._source = source
        self._store = store
        self._clock = clock
        self.chain_id = chain_id
        self.gateway = gateway
        self._decode = decode
        self._start = start_block
        self._max_blocks = max_blocks
        self._caught_up: int | None = None  # the head up to which every block was applied

    @property
    def cursor_name(self) -> str:
        return f"crosschain:{self.chain_id}:{self.gateway.lower()}"

    async def poll(self) -> int:
        """Apply the blocks after the cursor up to the head; how many blocks were read."""
        head = await self._source.height()
        if head == self._caught_up:  # no new block since the last poll applied every block up to it
            return 0
        cursor = await self._store.cursor(self.cursor_name)
        start = self._start if self._start is not None else head
        scan = next_scan(cursor, head, start=start, max_blocks=self._max_blocks)
        read = 0
        for index in range(scan.first, scan.last + 1):
            block = await self._source.block_events(index, self.gateway)
            ours = [e for e in block.events if e.contract.lower() == self.gateway.lower() and e.halted]
            await self._store.apply_block(self.cursor_name, index, self._decode(ours), self._clock.now())
            read += 1
            cursor = index
        self._caught_up = head if cursor == head else None
        return read
