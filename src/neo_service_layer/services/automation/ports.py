"""What the automation use cases need from the chain, their own tables and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ContractCall, ContractHash
from neo_service_layer.services.automation.rules.upkeeps import Performed, Upkeep


class AutomationChain(Protocol):
    """The reads the scheduler makes (``NeoChain`` implements them)."""

    async def height(self) -> int: ...

    async def block_events(self, index: int, contract: ContractHash) -> BlockEvents: ...

    async def block_time(self, index: int) -> datetime: ...

    async def read(self, call: ContractCall) -> tuple[Any, ...]: ...


@dataclass(frozen=True, slots=True)
class UpkeepRow:
    """An upkeep as the status API shows it."""

    upkeep_id: int
    owner: str
    target: str
    method: str
    trigger: dict[str, Any]
    gas_limit: int
    catch_up: str
    state: int
    since_seconds: int
    since_block: int
    balance: int
    invalid: str | None
    skip_reason: str | None
    skip_occurrence: int | None
    skipped_at: datetime | None
    skips: int


@dataclass(frozen=True, slots=True)
class RunRow:
    """One due occurrence and what became of it."""

    occurrence: int
    due_block: int
    status: str
    tx_hash: str | None
    performed_block: int | None
    gas_used: int | None
    charged: int | None
    reason: str | None
    attempts: int


class UpkeepStore(Protocol):
    async def save(self, contract: str, upkeep: Upkeep, read_block: int) -> None: ...

    async def save_invalid(self, contract: str, upkeep_id: int, reason: str, read_block: int) -> None: ...

    async def record_skip(
        self, contract: str, upkeep_id: int, reason: str, occurrence: int, now: datetime
    ) -> None: ...

    async def record_performed(self, contract: str, runs: Sequence[Performed]) -> None: ...

    async def record_run_error(self, contract: str, request_id: int, error: str) -> int:
        """Count a dry-run fault of the run; its faults so far."""
        ...


class AutomationObserver(Protocol):
    def occurrence(self, outcome: str, reason: str = "") -> None:
        """One occurrence ``due``, ``run`` (sent), ``performed`` or ``skipped`` (with the reason)."""
        ...

    def lateness(self, blocks: int) -> None: ...

    def runs_left(self, upkeep_id: int, runs: int | None) -> None:
        """Runs the upkeep's balance still pays for (``None``: not active, forget it)."""
        ...


class UpkeepStatusStore(Protocol):
    async def upkeeps(self, contract: str, *, limit: int, after: int) -> list[UpkeepRow]: ...

    async def upkeep(self, contract: str, upkeep_id: int) -> UpkeepRow | None: ...

    async def runs(self, contract: str, upkeep_id: int, *, limit: int) -> list[RunRow]: ...
