"""The outbox relay of an EVM chain: every recorded fulfilment gets in, or a replacement with its nonce does.

For each pending entry of a service, at most once per ``resend_after``:

- in a block: done (the watcher has usually marked it already, from the contract's event); reverted
  on chain: its requests go back to SEEN with a fault counted (``OutboxStore.outbox_retry``);
- its nonce is spent by another of the sender's transactions (a replacement of it got in, or a
  transaction signed after it was lost): it can never be included: ``expired``, its requests still
  FULFILLING go back to SEEN (one fulfilled by the replacement is FULFILLED and stays);
- never sent (the worker died between the outbox write and the broadcast), or not in a block yet: sent
  again, the same bytes; after ``replace_after`` sends it is replaced: the same call and nonce with
  fees raised (``EvmTransactions.replacement``; above the operator's fee cap the old one is sent again
  instead), so a fee spike cannot strand it. Both carry one nonce:
  at most one of them can ever be included.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from neo_service_layer.kernel.chain.ports.chain import (
    ChainObserver,
    SendOutcome,
    SignedTransaction,
    TransactionState,
)
from neo_service_layer.kernel.chain.ports.evm import EvmOutboxStore, EvmTransactions
from neo_service_layer.kernel.chain.rules import OutboxEntry
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.chain")


class EvmOutboxAction(StrEnum):
    WAIT = "wait"
    DONE = "done"
    RETRY = "retry"  # reverted on chain
    EXPIRE = "expire"  # its nonce went to another transaction
    RESEND = "resend"
    REPLACE = "replace"


class EvmOutboxRelay:
    def __init__(
        self,
        transactions: EvmTransactions,
        store: EvmOutboxStore,
        clock: Clock,
        observer: ChainObserver,
        *,
        service: str,
        resend_after: timedelta,
        replace_after: int,
    ) -> None:
        self._txs = transactions
        self._store = store
        self._clock = clock
        self._observer = observer
        self._service = service
        self._resend_after = resend_after
        self._replace_after = replace_after

    async def run_once(self) -> dict[EvmOutboxAction, int]:
        """Handle every pending entry once; return how many got which action."""
        done: dict[EvmOutboxAction, int] = {}
        entries = await self._store.pending_outbox(self._service)
        mined: int | None = None
        for entry in entries:
            now = self._clock.now()
            if entry.send_count > 0 and not self._due(entry.last_sent_at, now):
                action = EvmOutboxAction.WAIT
            else:
                if mined is None:
                    mined = await self._txs.mined_nonce()
                action = await self._handle(entry, mined, now)
            done[action] = done.get(action, 0) + 1
        return done

    def _due(self, last_sent_at: datetime | None, now: datetime) -> bool:
        return last_sent_at is None or now - last_sent_at >= self._resend_after

    async def _handle(self, entry: OutboxEntry, mined: int, now: datetime) -> EvmOutboxAction:
        state = await self._txs.state(entry.tx_hash) if entry.send_count > 0 else TransactionState(None)
        if state.block is None and self._txs.nonce_of(entry.raw) < mined:
            state = await self._txs.state(entry.tx_hash)  # mined since the first look?
            if state.block is None:
                await self._store.outbox_retry(entry.tx_hash, "expired", now)
                self._observer.transaction_outcome(self._service, "expired")
                return EvmOutboxAction.EXPIRE
        if state.block is not None:
            if state.halted is False:
                await self._store.outbox_retry(entry.tx_hash, "faulted", now)
                self._observer.transaction_outcome(self._service, "faulted")
                return EvmOutboxAction.RETRY
            await self._store.outbox_included(entry.tx_hash, state.block)
            return EvmOutboxAction.DONE
        if entry.send_count >= self._replace_after:
            new = await self._txs.replacement(entry.raw)
            if new is not None:
                return await self._replace(entry, new, now)
        result = await self._txs.broadcast(entry.raw)
        error = result.detail if result.outcome is SendOutcome.REJECTED else None
        await self._store.mark_sent(entry.tx_hash, now, error)
        self._observer.transaction_outcome(self._service, f"resent_{result.outcome.value}")
        return EvmOutboxAction.RESEND

    async def _replace(self, entry: OutboxEntry, new: SignedTransaction, now: datetime) -> EvmOutboxAction:
        if not await self._store.outbox_replace(entry.tx_hash, new, now):
            return EvmOutboxAction.WAIT  # included or replaced meanwhile (another worker's relay)
        log.warning(
            "EVM transaction not included; replaced with higher fees",
            service=self._service,
            old_tx=entry.tx_hash,
            new_tx=new.tx_hash,
            sends=entry.send_count,
        )
        result = await self._txs.broadcast(new.raw)
        error = result.detail if result.outcome is SendOutcome.REJECTED else None
        await self._store.mark_sent(new.tx_hash, now, error)
        self._observer.transaction_outcome(self._service, "replaced")
        return EvmOutboxAction.REPLACE
