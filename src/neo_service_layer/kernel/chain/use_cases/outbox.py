"""The outbox relay: gets every recorded fulfilment transaction on chain, or replaces it once it expired.

A transaction is written to the outbox (with its requests moved to ``fulfilling``) before it is sent.
The relay then, for each pending entry:

- sends it if it was never sent (the worker died between commit and send) or not seen for a while
  (resend: the same signed bytes, so the same hash: a node that has it answers "already known");
- once the chain height reaches its ``validUntilBlock`` without it being included, marks it expired and
  moves its requests back to ``seen``: they are claimed again and get a new transaction. Only then,
  because from that height on the old one can never be included: two of our transactions for one
  request are never both includable;
- a transaction included but FAULTed on chain (state changed after the dry-run) also sends its requests
  back to ``seen`` and counts the fault on each (``chain_faults``): such a request is never batched
  again, and is retried alone, then without its callback, then marked failed
  (``callback_delivery.CallbackDelivery._send_after_fault``).

Inclusion of a HALTed transaction is normally noticed by the watcher (the contract's "fulfilled" event),
which marks the entry included in the same database transaction.
"""

from __future__ import annotations

from datetime import timedelta

from neo_service_layer.kernel.chain.ports.chain import Chain, ChainObserver, SendOutcome, TransactionState
from neo_service_layer.kernel.chain.ports.request_store import OutboxStore
from neo_service_layer.kernel.chain.rules import OutboxAction, outbox_action
from neo_service_layer.kernel.clock import Clock


class OutboxRelay:
    def __init__(
        self,
        chain: Chain,
        store: OutboxStore,
        clock: Clock,
        observer: ChainObserver,
        *,
        service: str,
        resend_after: timedelta,
    ) -> None:
        self._chain = chain
        self._store = store
        self._clock = clock
        self._observer = observer
        self._service = service
        self._resend_after = resend_after

    async def run_once(self) -> dict[OutboxAction, int]:
        """Handle every pending entry once; return how many got which action."""
        done: dict[OutboxAction, int] = {}
        entries = await self._store.pending_outbox(self._service)
        if not entries:
            return done
        height = await self._chain.height()
        for entry in entries:
            now = self._clock.now()
            action = outbox_action(
                included_block=None,
                halted=None,
                height=height,
                valid_until_block=entry.valid_until_block,
                last_sent_at=entry.last_sent_at,
                now=now,
                resend_after=self._resend_after,
            )
            if action is OutboxAction.WAIT:
                done[action] = done.get(action, 0) + 1
                continue
            state = TransactionState(None)
            if entry.send_count > 0 or action is OutboxAction.EXPIRE:
                state = await self._chain.transaction_state(entry.tx_hash)
                if state.block is not None:
                    action = outbox_action(
                        included_block=state.block,
                        halted=state.halted,
                        height=height,
                        valid_until_block=entry.valid_until_block,
                        last_sent_at=entry.last_sent_at,
                        now=now,
                        resend_after=self._resend_after,
                    )
            if action is OutboxAction.DONE:
                await self._store.outbox_included(entry.tx_hash, state.block or height)
            elif action is OutboxAction.EXPIRE:
                await self._store.outbox_retry(entry.tx_hash, "expired", now)
                self._observer.transaction_outcome(self._service, "expired")
            elif action is OutboxAction.RETRY:
                await self._store.outbox_retry(entry.tx_hash, "faulted", now)
                self._observer.transaction_outcome(self._service, "faulted")
            elif action is OutboxAction.RESEND:
                result = await self._chain.send(entry.raw)
                error = result.detail if result.outcome is SendOutcome.REJECTED else None
                await self._store.mark_sent(entry.tx_hash, now, error)
                self._observer.transaction_outcome(self._service, f"resent_{result.outcome.value}")
            done[action] = done.get(action, 0) + 1
        return done
