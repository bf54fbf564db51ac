"""Persistence the chain services need: cursors, idempotent requests with leases, the outbox.

``OutboxStore`` is the part that knows no request payload (the relay needs only it); ``RequestStore`` is
one service's view of the pipeline, typed by what its requests ask (``Q``) and are answered (``A``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import (
    ChainRequest,
    Fulfilment,
    NewRequest,
    OutboxEntry,
    RequestStatus,
    RequestUpdate,
    Transitioned,
)


class OutboxStore(Protocol):
    async def pending_outbox(self, service: str) -> list[OutboxEntry]: ...

    async def mark_sent(self, tx_hash: str, now: datetime, error: str | None) -> None: ...

    async def mark_sent_many(self, sent: Sequence[tuple[str, str | None]], now: datetime) -> None:
        """``mark_sent`` for each (transaction hash, error), in one database transaction."""
        ...

    async def outbox_included(self, tx_hash: str, block: int) -> None: ...

    async def outbox_retry(self, tx_hash: str, status: str, now: datetime) -> int:
        """The transaction expired or faulted (``status``): its FULFILLING requests go back to SEEN.

        For ``"faulted"`` (included but FAULTed on chain) each request's ``chain_faults`` goes up by one
        in the same change; an expiry is not a fault.
        """
        ...


class RequestReader[Q, A](Protocol):
    async def get(self, service: str, contract: str, request_id: int) -> ChainRequest[Q, A] | None: ...


class RequestStore[Q, A](OutboxStore, RequestReader[Q, A], Protocol):
    async def cursor(self, name: str) -> int | None: ...

    async def apply_block(
        self,
        cursor_name: str,
        service: str,
        contract: str,
        block: int,
        block_time: datetime | None,
        new: Sequence[NewRequest[Q]],
        updates: Sequence[RequestUpdate],
        now: datetime,
    ) -> list[Transitioned]:
        """Apply a block's events and move the cursor to ``block`` atomically; return real transitions."""
        ...

    async def reopen_from(self, service: str, contract: str, block: int, now: datetime) -> int:
        """The node made the blocks from ``block`` on again: requests recorded as fulfilled there go
        back to FULFILLING with our outbox transaction pending again (it is resent, or replaced once
        expired), or to SEEN when the fulfilment was not ours. How many moved."""
        ...

    async def claim(
        self, service: str, contract: str, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[ChainRequest[Q, A]]: ...

    async def release(self, service: str, contract: str, worker: str, request_ids: Sequence[int]) -> None: ...

    async def renew(
        self, service: str, contract: str, worker: str, request_ids: Sequence[int], until: datetime
    ) -> set[int]:
        """Extend ``worker``'s leases of these SEEN requests to ``until``; return the ids it holds now.

        A lease that ran out but was not taken by another worker is still ``worker``'s (nobody else can
        have answered the request): it is renewed, so work finished late can still be written."""
        ...

    async def write_outbox(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        tx: SignedTransaction,
        fulfilments: Sequence[Fulfilment[A]],
    ) -> bool:
        """Record the transaction and its answers if every request is still leased by ``worker``."""
        ...

    async def write_outboxes(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        items: Sequence[tuple[SignedTransaction, Sequence[Fulfilment[A]]]],
    ) -> list[bool]:
        """``write_outbox`` for each item, in one database transaction; per item, whether it was written."""
        ...

    async def mark_failed(
        self, service: str, contract: str, worker: str, request_id: int, reason: str, now: datetime
    ) -> bool: ...

    async def count_by_status(self, service: str, contract: str) -> dict[RequestStatus, int]: ...
