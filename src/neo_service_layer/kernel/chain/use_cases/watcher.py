"""The chain watcher: reads a contract's events block by block and records them, resumable and idempotent.

Polling, not WebSocket: each ``poll`` asks for the head height (one cheap RPC call) and reads every block
after the durable cursor (the last block whose events were all applied, stored in the database). A
request is therefore never missed: after downtime, a node restart or an RPC failover the next poll
starts again at the cursor. With the poll interval a fraction of the block time (default: a tenth) the
request block is seen within ~100 ms at 1 s blocks, which keeps fulfilment in the next block; a
WebSocket subscription would save those milliseconds but still needs this same cursor scan for gaps.
A poll that finds the head it last caught up with reads nothing else (the head is one read shared by
the process's pollers, ``adapters.shared_height``): polling an idle chain costs no database statement.

Each block's events and the cursor move are one database transaction, so a crash between them leaves
the cursor behind the events, and re-applying a block changes nothing (inserts ignore duplicates,
status moves are conditional).

Only notifications of executions that HALTed are decoded. A FAULTed transaction's notifications (those
emitted before the fault, which application logs still list) describe state changes that were rolled
back: a request there was never stored by the contract, its id is handed to the next request, and a
"fulfilled" there fulfilled nothing. They are dropped before the service's decoder sees them and
counted (``ChainObserver.events_dropped``, reason ``not_halted``).

A block the watcher applied is never expected to change (dBFT commits a block once). A single-validator
node killed before writing its last blocks does make different ones at those heights, and the cursor
would then be past blocks never read. The watcher remembers the hashes of the blocks it applied (in
memory, the last ``REMEMBERED``); when the chain has a new head it checks the block at its cursor, and
if that changed it reads again from the first changed block it remembers (an error is logged).
Before that, requests recorded as fulfilled in the changed blocks are opened again
(``RequestStore.reopen_from``): back to FULFILLING with our transaction pending in the outbox (the
relay resends the same bytes or, once expired, has it rebuilt), so a fulfilment the node lost is sent
again and one it included again is read again. Re-reading is safe: applying a block is idempotent, and
a request id shown from another transaction is failed with the reason (``adapters.request_events``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from neo_service_layer.kernel.chain.ports.chain import BlockSource, ChainEvent, ChainObserver, ContractHash
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import (
    NewRequest,
    RequestStatus,
    RequestUpdate,
    Transitioned,
    next_scan,
)
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger

#: why the watcher ignored an event (the ``reason`` of ``ChainObserver.events_dropped``)
NOT_HALTED = "not_halted"

#: how many applied blocks' hashes the watcher remembers (a node loses at most its last second)
REMEMBERED = 256

log = get_logger("nsl.chain")

#: a service's reading of its contract's events: new requests (with what they ask) and later events
type EventDecoder[Q] = Callable[[Sequence[ChainEvent]], tuple[list[NewRequest[Q]], list[RequestUpdate]]]


@dataclass(frozen=True, slots=True)
class PollResult:
    head: int
    processed: int
    cursor: int | None
    transitions: tuple[Transitioned, ...]


class ChainWatcher[Q]:
    """Watches one contract for one service."""

    def __init__(
        self,
        chain: BlockSource,
        store: RequestStore[Q, Any],
        clock: Clock,
        observer: ChainObserver,
        *,
        service: str,
        contract: ContractHash,
        decode: EventDecoder[Q],
        start_block: int | None,
        max_blocks: int = 100,
    ) -> None:
        self._chain = chain
        self._store = store
        self._clock = clock
        self._observer = observer
        self.service = service
        self.contract = contract
        self._decode = decode
        self._start = start_block
        self._max_blocks = max_blocks
        self._hashes: dict[int, str] = {}  # applied blocks' hashes, by index
        self._checked_head: int | None = None
        self._caught_up: int | None = None  # the head this watcher last applied every block up to

    @property
    def cursor_name(self) -> str:
        return f"{self.service}:{self.contract}"

    async def poll(self) -> PollResult:
        """Apply every block after the cursor up to the head (at most ``max_blocks`` per call)."""
        head = await self._chain.height()
        if head == self._caught_up:  # no new block since the last poll applied all: nothing to read
            return PollResult(head, 0, head, ())
        cursor = await self._store.cursor(self.cursor_name)
        if head != self._checked_head:  # once per new head: has the block at the cursor changed?
            changed = await self._first_changed(min(cursor, head)) if cursor is not None else None
            if changed is not None:
                log.error(
                    "the node made applied blocks again; reading them again",
                    service=self.service,
                    first_block=changed,
                    cursor=cursor,
                )
                await self._store.reopen_from(self.service, self.contract, changed, self._clock.now())
                cursor = changed - 1
            self._checked_head = head
        start = self._start if self._start is not None else head
        scan = next_scan(cursor, head, start=start, max_blocks=self._max_blocks)
        transitions: list[Transitioned] = []
        for index in range(scan.first, scan.last + 1):
            block = await self._chain.block_events(index, self.contract)
            ours = [e for e in block.events if e.contract == self.contract]
            halted = [e for e in ours if e.halted]
            if len(halted) < len(ours):
                self._observer.events_dropped(self.service, NOT_HALTED, len(ours) - len(halted))
            new, updates = self._decode(halted)
            applied = await self._store.apply_block(
                self.cursor_name,
                self.service,
                self.contract,
                index,
                block.time,
                new,
                updates,
                self._clock.now(),
            )
            transitions.extend(applied)
            cursor = index
            self._remember(index, block.hash)
        self._observer.blocks_behind(self.service, head - cursor if cursor is not None else head)
        self._caught_up = head if cursor == head else None
        for moved in transitions:
            self._observer.request_outcome(self.service, moved.status.value)
            if moved.status is RequestStatus.FULFILLED:
                seconds = (
                    (moved.block_time - moved.request_time).total_seconds()
                    if moved.block_time and moved.request_time
                    else None
                )
                self._observer.fulfilment_latency(self.service, moved.block - moved.request_block, seconds)
        return PollResult(head, len(scan), cursor, tuple(transitions))

    def _remember(self, index: int, block_hash: str | None) -> None:
        if block_hash is None:
            return
        self._hashes[index] = block_hash
        for old in [i for i in self._hashes if i <= index - REMEMBERED]:
            del self._hashes[old]

    async def _first_changed(self, top: int) -> int | None:
        """The lowest remembered block, going down from ``top``, whose hash is no longer the chain's."""
        changed = None
        index = top
        while index in self._hashes:
            now = (await self._chain.block_events(index, self.contract)).hash
            if now is None or now == self._hashes[index]:
                break
            changed = index
            index -= 1
        return changed
