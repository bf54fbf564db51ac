"""The worker's block scanner of tenant jobs: reads each new block once, after a durable cursor, and
records the runs of the jobs on block triggers; the ``JobRunner`` claims and delivers them.

For each block after the cursor (at most ``max_blocks`` per pass), for every active event or condition
job that started before it (``since_block``, the head when the job was created or resumed):

- **event**: each HALTed notification of the job's contract matching its name and filters is one run,
  occurrence ``block * 10**6 + position`` among the contract's notifications in the block; after a
  downtime every event runs once, whatever the catch-up policy (events are facts of their block);
- **condition**: at the heights ``start + k * everyBlocks`` the call is test-invoked (read-only, on the
  chain's state now); a truthy answer is one run with its data, occurrence the height; a false one
  records nothing (counted: skipped ``condition_false``; a faulting check: ``check_faulted``). Behind the
  head, ``latest`` checks only the newest grid height up to the head (the others are counted skipped
  ``missed``), ``all`` checks each grid height as the scan reaches it.

Runs are inserted ``PENDING`` (due now) keyed ``(job_id, occurrence)``, insert-ignore, and the job's
index row is woken; the cursor moves past the block after its runs are recorded, so a scanner that
crashes mid-block reads it again and records nothing twice, and replicas record each run once.
"""

from __future__ import annotations

from collections import defaultdict

from neo_service_layer.kernel.chain.ports.chain import ChainCallFaulted, ContractCall
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.ports import (
    AutomationChain,
    BlockJob,
    BlockRun,
    JobBlockStore,
    JobObserver,
)
from neo_service_layer.services.automation.rules.job_triggers import (
    checked_heights,
    condition_payload,
    condition_result,
    event_payload,
)
from neo_service_layer.services.automation.rules.triggers import event_occurrence

log = get_logger("nsl.automation")

SKIPPED = "skipped"


class JobBlockScanner:
    def __init__(
        self,
        chain: AutomationChain,
        store: JobBlockStore,
        clock: Clock,
        observer: JobObserver,
        *,
        max_blocks: int = 100,
    ) -> None:
        self._chain = chain
        self._store = store
        self._clock = clock
        self._observer = observer
        self._max_blocks = max_blocks
        self._caught_up: int | None = None

    async def poll(self) -> int:
        """Read the blocks after the cursor up to the head (at most ``max_blocks``); how many.

        The first pass ever starts after the oldest start block of the jobs (or at the head: a job sees
        only the blocks after its creation anyway)."""
        head = await self._chain.height()
        if head == self._caught_up:  # no new block since the last poll read up to the head
            return 0
        cursor = await self._store.cursor()
        if cursor is not None and cursor >= head:
            self._caught_up = head
            return 0
        jobs = await self._store.block_jobs()
        if cursor is None:
            cursor = min((j.since_block for j in jobs), default=head)
            await self._store.move_cursor(cursor, self._clock.now())
        last = min(head, cursor + self._max_blocks)
        for block in range(cursor + 1, last + 1):
            await self._block(block, head, [j for j in jobs if j.since_block < block])
            await self._store.move_cursor(block, self._clock.now())
        self._caught_up = head if last == head else None
        return last - cursor

    async def _block(self, block: int, head: int, jobs: list[BlockJob]) -> None:
        found: dict[str, list[BlockRun]] = defaultdict(list)
        watched: dict[str, list[BlockJob]] = defaultdict(list)
        for job in jobs:
            if job.trigger.event is not None:
                watched[job.trigger.event.contract].append(job)
            elif job.trigger.condition is not None:
                run = await self._condition(job, block, head)
                if run is not None:
                    found[job.job_id].append(run)
        for contract, watchers in watched.items():
            events = await self._chain.block_events(block, contract)
            notifications = [e for e in events.events if e.halted and e.contract.lower() == contract]
            for position, event in enumerate(notifications):
                for job in watchers:
                    assert job.trigger.event is not None
                    if job.trigger.event.matches(event.contract, event.name, event.values):
                        payload = event_payload(block, event.tx_hash, contract, event.name, event.values)
                        occurrence = event_occurrence(block, position)
                        found[job.job_id].append(BlockRun(occurrence, block, event.tx_hash, payload))
        by_id = {j.job_id: j for j in jobs}
        now = self._clock.now()
        for job_id, runs in found.items():
            inserted = await self._store.record(by_id[job_id], runs, now)
            if inserted:
                log.info("automation job runs recorded", job=job_id, block=block, runs=inserted)

    async def _condition(self, job: BlockJob, block: int, head: int) -> BlockRun | None:
        condition = job.trigger.condition
        assert condition is not None
        if not condition.on_grid(job.anchor, block):
            return None
        if not checked_heights(condition, job.anchor, block, head, job.catch_up):
            self._observer.run(job.kind, SKIPPED, "missed")
            return None
        call = ContractCall(condition.contract, condition.method, tuple(condition.args))
        try:
            stack = await self._chain.read(call)
        except ChainCallFaulted as exc:
            self._observer.run(job.kind, SKIPPED, "check_faulted")
            log.info("automation job check faulted", job=job.job_id, block=block, reason=exc.reason)
            return None
        holds, data = condition_result(stack[0] if stack else None)
        if not holds:
            self._observer.run(job.kind, SKIPPED, "condition_false")
            return None
        return BlockRun(block, block, None, condition_payload(block, condition, data))
