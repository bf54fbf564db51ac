"""Fakes of a job key's chain that record what they were asked (dry runs, builds, sends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from neo_service_layer.enclave.wire.keys import KeyDisabled
from neo_service_layer.kernel.chain.ports.chain import (
    ContractCall,
    DryRun,
    SendOutcome,
    SendResult,
    SignedTransaction,
    TransactionState,
)
from neo_service_layer.services.automation.rules.job_actions import ContractAction

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


@dataclass
class FakeChain:
    """Records what a job's chain was asked; answers what the test set."""

    dry: DryRun = field(default_factory=lambda: DryRun(True, 3 * 10**7, None))
    balance: int = 10**9
    height_now: int = 100
    states: dict[str, TransactionState] = field(default_factory=dict)
    send_outcome: SendOutcome = SendOutcome.ACCEPTED
    refuse_signing: bool = False
    dry_runs: list[list[ContractCall]] = field(default_factory=list)
    built: list[SignedTransaction] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    balance_of: list[str | None] = field(default_factory=list)
    magic: int = 1
    sender: str = ""

    async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
        self.dry_runs.append(list(calls))
        return self.dry

    async def build_transaction(self, calls: Sequence[ContractCall], dry_run: DryRun) -> SignedTransaction:
        if self.refuse_signing:
            raise KeyDisabled("key is disabled")
        tx = SignedTransaction(
            f"0x{len(self.built):064x}", b"raw%d" % len(self.built), 120, dry_run.gas_consumed, 10**6
        )
        self.built.append(tx)
        return tx

    async def gas_balance(self, account: str | None = None) -> int:
        self.balance_of.append(account)
        return self.balance

    async def send(self, raw: bytes) -> SendResult:
        self.sent.append(raw)
        return SendResult(
            self.send_outcome, "insufficient funds" if self.send_outcome is SendOutcome.REJECTED else ""
        )

    async def transaction_state(self, tx_hash: str) -> TransactionState:
        return self.states.get(tx_hash, TransactionState(None))

    async def height(self) -> int:
        return self.height_now


@dataclass
class Chains:
    chain: FakeChain
    asked: list[tuple[str, str, bytes]] = field(default_factory=list)

    def for_job(self, tenant_id: str, job_id: str, action: ContractAction, grant: bytes) -> Any:
        self.asked.append((tenant_id, job_id, grant))
        return self.chain
