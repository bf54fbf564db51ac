"""An upkeep's status as its owner needs it: what it runs, when next, what it costs, and why a run did
not happen (the last skip and each failed run's reason)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.chain.ports.chain import ContractCall
from neo_service_layer.services.automation.ports import AutomationChain, RunRow, UpkeepRow, UpkeepStatusStore
from neo_service_layer.services.automation.rules.display import trigger_from_description
from neo_service_layer.services.automation.rules.schedule import low_balance, next_due, runs_left
from neo_service_layer.services.automation.rules.upkeeps import UpkeepState

#: runs shown with one upkeep
RUNS_SHOWN = 20


class UpkeepNotFound(NotFound):
    code = "upkeep-not-found"


@dataclass(frozen=True, slots=True)
class UpkeepStatus:
    row: UpkeepRow
    state: str
    base_fee: int
    runs_left: int | None
    low_balance: bool
    next_due_time: datetime | None
    next_due_block: int | None
    runs: tuple[RunRow, ...] = ()


class UpkeepStatusReader:
    def __init__(
        self, store: UpkeepStatusStore, chain: AutomationChain, *, contract: str, now: datetime
    ) -> None:
        self._store = store
        self._chain = chain
        self._contract = contract
        self._now = now

    async def list(self, *, after: int, limit: int) -> list[UpkeepStatus]:
        rows = await self._store.upkeeps(self._contract, limit=limit, after=after)
        if not rows:
            return []
        fee, height = await self._fee_and_height()
        return [self._status(r, fee, height) for r in rows]

    async def one(self, upkeep_id: int) -> UpkeepStatus:
        row = await self._store.upkeep(self._contract, upkeep_id)
        if row is None:
            raise UpkeepNotFound(f"no upkeep {upkeep_id} has been read from the automation contract")
        fee, height = await self._fee_and_height()
        runs = await self._store.runs(self._contract, upkeep_id, limit=RUNS_SHOWN)
        status = self._status(row, fee, height)
        return replace(status, runs=tuple(runs))

    async def _fee_and_height(self) -> tuple[int, int]:
        fee = int((await self._chain.read(ContractCall(self._contract, "baseFee")))[0])
        return fee, await self._chain.height()

    def _status(self, row: UpkeepRow, fee: int, height: int) -> UpkeepStatus:
        if row.invalid is not None:
            return UpkeepStatus(row, "invalid", fee, None, False, None, None)
        state = UpkeepState(row.state)
        cost = row.gas_limit + fee
        left = runs_left(row.balance, cost) if cost > 0 else None
        due_time = due_block = None
        trigger = trigger_from_description(row.trigger)
        if state is UpkeepState.ACTIVE and trigger is not None:
            now = int(self._now.timestamp())
            seconds, due_block = next_due(trigger, row.since_seconds, row.since_block, now, height)
            due_time = datetime.fromtimestamp(seconds, UTC) if seconds is not None else None
        low = state is UpkeepState.ACTIVE and cost > 0 and low_balance(row.balance, cost)
        return UpkeepStatus(row, state.name.lower(), fee, left, low, due_time, due_block)
