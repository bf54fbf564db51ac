"""The automation scheduler: reads every block once, after a durable cursor, and records what is due in it.

For each block, in order (the watcher's pattern, ``kernel/chain/use_cases/watcher.py``):

1. the automation contract's own events: an upkeep registered, updated, paused, funded... is read again
   from the contract (``getUpkeep``; the chain is the truth, the table a copy for the status API);
   ``UpkeepPerformed`` marks that occurrence's run performed, with its GAS;
2. the occurrences due in the block: cron and every-N-seconds occurrences whose time falls between the
   previous block's timestamp and this one's; every-N-blocks at their heights; each matching
   notification of a watched contract (one occurrence per notification, however many in the block); a
   condition checked (read-only call of the target) at the head block when on its block grid;
3. one pipeline request per occurrence, id ``run_id(upkeep, occurrence)``, and the cursor moved past
   the block, in one database transaction (``RequestStore.apply_block``).

The ids are a function of the block's content, so two schedulers on one database (replicas) or a
scheduler that crashed mid-block and reads it again record each occurrence once; the contract's
``performed`` mark makes a second send of one occurrence fault in its dry run, so it is never sent.

An occurrence is skipped (never recorded as a run; counted and shown with the reason on its upkeep)
when the balance does not cover ``gasLimit + baseFee`` for it, when the condition is false, or when it
was missed under the ``latest`` catch-up policy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from neo_service_layer.kernel.chain.ports.chain import (
    ChainCallFaulted,
    ChainEvent,
    ChainObserver,
    ContractCall,
)
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    NewRequest,
    RequestStatus,
    RequestUpdate,
    next_scan,
)
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.ports import AutomationChain, AutomationObserver, UpkeepStore
from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.runs import NO_TRANSACTION, RunAsked, RunSent
from neo_service_layer.services.automation.rules.schedule import (
    MAX_CATCH_UP,
    CatchUp,
    SkipReason,
    due_block_occurrences,
    due_time_occurrences,
)
from neo_service_layer.services.automation.rules.stack_items import NotSerializable, serialize
from neo_service_layer.services.automation.rules.triggers import (
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    event_matches,
    event_occurrence,
    run_id,
)
from neo_service_layer.services.automation.rules.upkeeps import (
    PERFORMED,
    Upkeep,
    UpkeepState,
    changed_upkeeps,
    performed_runs,
    upkeep_from_chain,
)

SERVICE = "automation"
#: the most occurrences of one upkeep recorded in one block (a chain stalled for a day, a cron per minute)
MAX_PER_BLOCK = 64 * MAX_CATCH_UP
#: the largest ``data`` the contract passes on (``MAX_DATA`` in the contract)
MAX_DATA = 1024

log = get_logger("nsl.automation")


@dataclass(frozen=True, slots=True)
class Due:
    upkeep: Upkeep
    occurrence: int
    data: bytes = b""
    tx_hash: str = NO_TRANSACTION


class AutomationScheduler:
    """Reads the automation contract's blocks and records the due occurrences as pipeline requests."""

    def __init__(
        self,
        chain: AutomationChain,
        store: RequestStore[RunAsked, RunSent],
        upkeeps: UpkeepStore,
        clock: Clock,
        observer: AutomationObserver,
        chain_observer: ChainObserver,
        *,
        contract: str,
        start_block: int | None,
        max_blocks: int = 100,
    ) -> None:
        self._chain = chain
        self._store = store
        self._upkeeps = upkeeps
        self._clock = clock
        self._observer = observer
        self._chain_observer = chain_observer
        self.contract = contract
        self._start = start_block
        self._max_blocks = max_blocks
        self._known: dict[int, Upkeep] | None = None
        self._fee = 0
        self._times: dict[int, int] = {}
        self._shown_skip: dict[int, str] = {}
        self._last_charge: dict[int, int] = {}
        self._caught_up: int | None = None  # the head up to which every block was processed

    @property
    def cursor_name(self) -> str:
        return f"{SERVICE}:{self.contract}"

    async def poll(self) -> int:
        """Process every block after the cursor up to the head (at most ``max_blocks``); how many."""
        head = await self._chain.height()
        if head == self._caught_up:  # no new block since every block up to the head was processed
            return 0
        self._fee = await self._base_fee()
        if self._known is None:
            await self._load(head)
        cursor = await self._store.cursor(self.cursor_name)
        scan = next_scan(
            cursor, head, start=self._start if self._start is not None else head, max_blocks=self._max_blocks
        )
        if scan.empty:
            self._chain_observer.blocks_behind(SERVICE, 0)
            self._caught_up = head
            return 0
        fee = self._fee
        previous = await self._time(max(scan.first - 1, 0))
        for block in range(scan.first, scan.last + 1):
            now = await self._time(block)
            await self._block(block, previous, now, head=head, fee=fee)
            previous = now
        self._chain_observer.blocks_behind(SERVICE, head - scan.last)
        self._caught_up = head if scan.last == head else None
        return len(scan)

    async def _load(self, head: int) -> None:
        self._known = {}
        count = (await self._chain.read(ContractCall(self.contract, "upkeepCount")))[0]
        for upkeep_id in range(1, int(count) + 1):
            await self._refresh(upkeep_id, head)

    async def _base_fee(self) -> int:
        return int((await self._chain.read(ContractCall(self.contract, "baseFee")))[0])

    async def _time(self, block: int) -> int:
        if block not in self._times:
            if len(self._times) > 256:
                self._times.clear()
            self._times[block] = int((await self._chain.block_time(block)).timestamp())
        return self._times[block]

    async def _refresh(self, upkeep_id: int, block: int) -> None:
        assert self._known is not None
        stack = await self._chain.read(ContractCall(self.contract, "getUpkeep", (upkeep_id,)))
        record = stack[0] if stack else ()
        if not isinstance(record, tuple) or not record:
            self._known.pop(upkeep_id, None)
            return
        try:
            upkeep = upkeep_from_chain(upkeep_id, record)
        except InvalidTrigger as exc:
            self._known.pop(upkeep_id, None)
            log.warning("upkeep cannot be scheduled", upkeep=upkeep_id, reason=str(exc))
            await self._upkeeps.save_invalid(self.contract, upkeep_id, str(exc), block)
            return
        self._known[upkeep_id] = upkeep
        await self._upkeeps.save(self.contract, upkeep, block)
        active = upkeep.state is UpkeepState.ACTIVE
        self._observer.runs_left(
            upkeep_id, upkeep.balance // upkeep.cost_per_run(self._fee) if active else None
        )

    async def _block(self, block: int, previous: int, now: int, *, head: int, fee: int) -> None:
        events = await self._chain.block_events(block, self.contract)
        own = [e for e in events.events if e.halted and e.contract == self.contract]
        for upkeep_id in sorted(changed_upkeeps([(e.name, e.values) for e in own])):
            await self._refresh(upkeep_id, block)
        updates, performed = [], []
        for event in own:
            if event.name != PERFORMED:
                continue
            for run in performed_runs([(event.name, event.values)]):
                rid = run_id(run.upkeep_id, run.occurrence)
                updates.append(RequestUpdate(rid, ChainEventKind.FULFILLED, block, event.tx_hash))
                updates.append(RequestUpdate(rid, ChainEventKind.DELIVERED, block, event.tx_hash))
                performed.append(run)
                self._last_charge[run.upkeep_id] = run.charged
        await self._upkeeps.record_performed(self.contract, performed)
        due = await self._due(block, previous, now, head=head, fee=fee)
        new = [
            NewRequest(
                run_id(d.upkeep.upkeep_id, d.occurrence),
                d.upkeep.target,
                RunAsked(d.upkeep.upkeep_id, d.occurrence, block, d.data),
                block,
                d.tx_hash,
            )
            for d in due
        ]
        when = datetime.fromtimestamp(now, UTC)
        moved = await self._store.apply_block(
            self.cursor_name, SERVICE, self.contract, block, when, new, updates, self._clock.now()
        )
        for change in moved:
            if change.status is RequestStatus.SEEN:
                self._observer.occurrence("due")
            elif change.status is RequestStatus.DELIVERED:
                self._observer.occurrence("performed")
                self._observer.lateness(change.block - change.request_block)
            self._chain_observer.request_outcome(SERVICE, change.status.value)

    async def _due(self, block: int, previous: int, now: int, *, head: int, fee: int) -> list[Due]:
        assert self._known is not None
        active = [u for u in self._known.values() if u.state is UpkeepState.ACTIVE]
        due: list[Due] = []
        missed: list[Due] = []
        watched: dict[str, list[Upkeep]] = defaultdict(list)
        for upkeep in active:
            trigger = upkeep.trigger
            if isinstance(trigger, EventTrigger):
                if block > upkeep.since_block:
                    watched[trigger.contract].append(upkeep)
            elif isinstance(trigger, CronTrigger | IntervalSecondsTrigger):
                run, skipped = _time_due(upkeep, trigger, previous, now)
                due += [Due(upkeep, o) for o in run]
                missed += [Due(upkeep, o) for o in skipped]
            elif isinstance(trigger, IntervalBlocksTrigger):
                run, _ = due_block_occurrences(
                    trigger.blocks, upkeep.since_block, block - 1, block, CatchUp.ALL
                )
                due += [Due(upkeep, o) for o in run]
            elif isinstance(trigger, ConditionTrigger) and block == head:
                on_grid, _ = due_block_occurrences(
                    trigger.every_blocks, upkeep.since_block, block - 1, block, CatchUp.ALL
                )
                if on_grid:
                    due += await self._condition(upkeep, trigger, block)
        for contract, upkeeps in watched.items():
            due += await self._events(block, contract, upkeeps)
        due = await self._latest(due, missed, head)
        for skip in missed:
            await self._skip(skip.upkeep, SkipReason.MISSED, skip.occurrence)
        return await self._affordable(due, fee)

    async def _latest(self, due: list[Due], missed: list[Due], head: int) -> list[Due]:
        """A ``latest`` upkeep read behind the head runs only its newest occurrence up to the head; the
        older ones are missed. Decided from the chain alone (no memory), so a crash mid catch-up
        changes nothing."""
        kept: list[Due] = []
        newest: dict[int, int | None] = {}
        for d in due:
            upkeep = d.upkeep
            if upkeep.catch_up is not CatchUp.LATEST or isinstance(
                upkeep.trigger, EventTrigger | ConditionTrigger
            ):
                kept.append(d)
                continue
            if upkeep.upkeep_id not in newest:
                newest[upkeep.upkeep_id] = await self._newest(upkeep, head)
            limit = newest[upkeep.upkeep_id]
            (kept if limit is None or d.occurrence >= limit else missed).append(d)
        return kept

    async def _newest(self, upkeep: Upkeep, head: int) -> int | None:
        """The upkeep's newest occurrence due by the head block (its time or height)."""
        trigger = upkeep.trigger
        if isinstance(trigger, IntervalBlocksTrigger):
            run, _ = due_block_occurrences(
                trigger.blocks, upkeep.since_block, upkeep.since_block, head, CatchUp.LATEST
            )
        elif isinstance(trigger, CronTrigger | IntervalSecondsTrigger):
            head_time = await self._time(head)
            run, _ = due_time_occurrences(
                trigger, upkeep.since_seconds, upkeep.since_seconds, head_time, CatchUp.LATEST
            )
        else:
            return None
        return run[-1] if run else None

    async def _condition(self, upkeep: Upkeep, trigger: ConditionTrigger, block: int) -> list[Due]:
        try:
            stack = await self._chain.read(ContractCall(upkeep.target, trigger.method))
        except ChainCallFaulted as exc:
            await self._skip(upkeep, SkipReason.DRY_RUN_FAULTED, block, f"check faults: {exc.reason}")
            return []
        holds, data = _check_result(stack[0] if stack else None)
        if not holds:
            await self._skip(upkeep, SkipReason.CONDITION_FALSE, block)
            return []
        return [Due(upkeep, block, data)]

    async def _events(self, block: int, contract: str, upkeeps: list[Upkeep]) -> list[Due]:
        found = await self._chain.block_events(block, contract)
        notifications = [e for e in found.events if e.halted and e.contract == contract]
        due = []
        for ordinal, event in enumerate(notifications):
            for upkeep in upkeeps:
                assert isinstance(upkeep.trigger, EventTrigger)
                if event_matches(upkeep.trigger, event.contract, event.name, event.values):
                    due.append(
                        Due(upkeep, event_occurrence(block, ordinal), _event_data(event), event.tx_hash)
                    )
        return due

    async def _affordable(self, due: list[Due], fee: int) -> list[Due]:
        """The occurrences the balance pays for, as the contract will judge them: before each run the
        balance must cover ``gasLimit + baseFee``, and a run takes what it burnt plus the fee (estimated
        from the upkeep's last charge). The rest are skipped, with the reason."""
        spent: dict[int, int] = defaultdict(int)
        kept = []
        for d in sorted(due, key=lambda d: (d.upkeep.upkeep_id, d.occurrence)):
            upkeep = d.upkeep
            cost = upkeep.cost_per_run(fee)
            if upkeep.balance - spent[upkeep.upkeep_id] < cost:
                await self._skip(upkeep, SkipReason.BALANCE_TOO_LOW, d.occurrence)
                continue
            spent[upkeep.upkeep_id] += min(cost, self._last_charge.get(upkeep.upkeep_id, cost))
            kept.append(d)
        return kept

    async def _skip(
        self, upkeep: Upkeep, reason: SkipReason, occurrence: int, detail: str | None = None
    ) -> None:
        """Count the skip; show it on the upkeep (written when the reason changes, not every block)."""
        self._observer.occurrence("skipped", reason.value)
        shown = detail or reason.value
        if self._shown_skip.get(upkeep.upkeep_id) == shown and reason is SkipReason.CONDITION_FALSE:
            return
        self._shown_skip[upkeep.upkeep_id] = shown
        await self._upkeeps.record_skip(self.contract, upkeep.upkeep_id, shown, occurrence, self._clock.now())


def _time_due(
    upkeep: Upkeep, trigger: CronTrigger | IntervalSecondsTrigger, previous: int, now: int
) -> tuple[list[int], list[int]]:
    """Time occurrences in ``(previous, now]``; ``all`` gets every one (not only the first
    ``MAX_CATCH_UP``) up to ``MAX_PER_BLOCK``."""
    run, skipped = due_time_occurrences(trigger, upkeep.since_seconds, previous, now, upkeep.catch_up)
    if upkeep.catch_up is CatchUp.ALL:
        while run and len(run) % MAX_CATCH_UP == 0 and len(run) < MAX_PER_BLOCK:
            more, _ = due_time_occurrences(trigger, upkeep.since_seconds, run[-1], now, CatchUp.ALL)
            if not more:
                break
            run += more
    return run, skipped


def _check_result(value: object) -> tuple[bool, bytes]:
    """A condition's answer as the contract reads it: ``True``, or ``[True, data]``; anything else is
    false (the contract would abort on it)."""
    if isinstance(value, bool):
        return value, b""
    if isinstance(value, tuple) and len(value) == 2 and value[0] is True:
        data = value[1]
        if isinstance(data, bytes) and len(data) <= MAX_DATA:
            return True, data
        if isinstance(data, str) and len(data.encode()) <= MAX_DATA:
            return True, data.encode()
    return False, b""


def _event_data(event: ChainEvent) -> bytes:
    """The event's values as ``StdLib.serialize`` writes them (what the target deserializes); empty when
    they cannot be serialized or exceed what the contract passes on."""
    try:
        data = serialize(event.values)
    except NotSerializable:
        return b""
    return data if len(data) <= MAX_DATA else b""
