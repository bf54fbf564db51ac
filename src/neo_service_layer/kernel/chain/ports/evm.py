"""What the EVM outbox relay needs: the sender's transactions on an EVM chain, and the outbox it keeps.

An EVM transaction never expires: the only way to make sure that at most one of our fulfilments for a
request can be included is its nonce. A replacement (higher fees, the same nonce and call) therefore
takes the place of a transaction that is not getting in, and once a block holds any transaction with
that nonce the others can never be included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from neo_service_layer.kernel.chain.ports.chain import SendResult, SignedTransaction, TransactionState
from neo_service_layer.kernel.chain.ports.request_store import OutboxStore


class EvmTransactions(Protocol):
    """The service's sender on one EVM chain."""

    async def state(self, tx_hash: str) -> TransactionState:
        """In a block (and whether it succeeded) or not yet."""
        ...

    async def mined_nonce(self) -> int:
        """How many of the sender's transactions are in blocks: every nonce below is spent for good."""
        ...

    def nonce_of(self, raw: bytes) -> int:
        """The nonce of one of the sender's signed transactions."""
        ...

    async def broadcast(self, raw: bytes) -> SendResult: ...

    async def replacement(self, raw: bytes) -> SignedTransaction | None:
        """The same call with the same nonce, fees raised enough for nodes to take it instead; ``None``
        when the raised fee would be above the operator's cap (the old transaction stays)."""
        ...


class EvmOutboxStore(OutboxStore, Protocol):
    async def outbox_replace(self, old_hash: str, new: SignedTransaction, now: datetime) -> bool:
        """Put ``new`` in the outbox in place of the pending ``old_hash`` (which becomes ``replaced``) and
        point its FULFILLING requests at it, in one database transaction; False if ``old_hash`` was no
        longer pending."""
        ...


class CallReverted(Exception):
    """The dry run of a call reverted: nothing was signed or sent. ``data`` is the revert data (hex)."""

    def __init__(self, reason: str, data: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data


class EvmSubmitter(Protocol):
    async def submit(
        self, to: str, data: bytes, record: Callable[[SignedTransaction], Awaitable[bool]]
    ) -> SendResult | None:
        """Dry-run a call of ``to``, sign it with the next nonce, ``record`` it (the outbox write) and
        broadcast it; ``None`` (nothing sent, nonce unused) when ``record`` refused.

        Raises:
            CallReverted: the dry run reverted.
        """
        ...
