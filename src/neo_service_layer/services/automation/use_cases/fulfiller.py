"""The automation fulfiller: performs each recorded occurrence once, never sending one whose dry run faults.

It claims due runs under a lease, groups them (``per_transaction``) and dry-runs the group's
``perform(upkeepId, occurrence, data)`` calls; a group that halts (split in halves while its GAS is
over ``gas_budget``, below the enclave's fee bound) is written to the outbox and sent
(``kernel/chain/use_cases/callback_delivery.send_through_outbox``); otherwise each run is tried alone.
A run whose dry run faults is not sent: the VM's reason is kept on the run, and it is tried again after
``rules.retry.backoff`` (its lease held until then, so no worker takes it in a tight loop), or failed
at once when waiting cannot help (``rules.retry.final``). The transaction is signed by the enclave,
which allows the sender only ``perform`` on the automation contract (``enclave/tx_rules.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from neo_service_layer.kernel.chain.ports.chain import Chain, ChainObserver, ContractCall, DryRun
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import ChainRequest, Fulfilment, lease_until
from neo_service_layer.kernel.chain.use_cases.callback_delivery import OutboxSender, send_through_outbox
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.automation.ports import AutomationObserver, UpkeepStore
from neo_service_layer.services.automation.rules.retry import MAX_FAULTS, backoff, final, skip_reason
from neo_service_layer.services.automation.rules.runs import RunAsked, RunSent
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE

type Run = ChainRequest[RunAsked, RunSent]


class AutomationFulfiller:
    def __init__(
        self,
        chain: Chain,
        store: RequestStore[RunAsked, RunSent],
        upkeeps: UpkeepStore,
        clock: Clock,
        observer: AutomationObserver,
        chain_observer: ChainObserver,
        *,
        contract: str,
        worker_id: str,
        lease_seconds: float = 30.0,
        claim_limit: int = 512,
        per_transaction: int = 64,
        gas_budget: int = 40 * 10**8,
        concurrency: int = 4,
    ) -> None:
        self._chain = chain
        self._store = store
        self._upkeeps = upkeeps
        self._clock = clock
        self._observer = observer
        self._chain_observer = chain_observer
        self.contract = contract
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._per_tx = per_transaction
        #: the most GAS one transaction's runs may burn, below the enclave's system-fee bound (50 GAS)
        self._gas_budget = gas_budget
        self._semaphore = asyncio.Semaphore(concurrency)
        self._sender = OutboxSender(chain, store, clock, chain_observer, SERVICE, contract, worker_id)

    async def run_once(self) -> int:
        """Claim and perform what is due; how many runs were claimed."""
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        runs = sorted(claimed, key=lambda r: (r.asked.upkeep_id, r.asked.occurrence))
        groups = [runs[i : i + self._per_tx] for i in range(0, len(runs), self._per_tx)]
        await asyncio.gather(*(self._limited(g) for g in groups))
        return len(claimed)

    async def _limited(self, group: list[Run]) -> None:
        async with self._semaphore:
            try:
                await self._perform(group)
            except Exception:
                await self._store.release(
                    SERVICE, self.contract, self.worker_id, [r.request_id for r in group]
                )
                raise

    def _call(self, run: Run) -> ContractCall:
        asked = run.asked
        return ContractCall(self.contract, "perform", (asked.upkeep_id, asked.occurrence, asked.data))

    async def _perform(self, group: list[Run]) -> None:
        if len(group) > 1 and not any(r.chain_faults for r in group):
            calls = [self._call(r) for r in group]
            dry = await self._chain.dry_run(calls)
            if dry.halted and dry.gas_consumed > self._gas_budget:  # over what one transaction may cost
                half = len(group) // 2
                await self._perform(group[:half])
                await self._perform(group[half:])
                return
            if dry.halted:
                await self._send(group, calls, dry)
                return
        for run in group:  # something faults (or faulted on chain): find out which, one by one
            if run.chain_faults >= MAX_FAULTS:  # halts in dry runs, faults in blocks: stop paying for it
                await self._faulted(run, f"the run faulted on chain {run.chain_faults} times")
                continue
            calls = [self._call(run)]
            dry = await self._chain.dry_run(calls)
            if dry.halted:
                await self._send([run], calls, dry)
            else:
                await self._faulted(run, dry.exception or "FAULT")

    async def _send(self, group: list[Run], calls: list[ContractCall], dry: DryRun) -> None:
        fulfilments = [Fulfilment(r.request_id, RunSent(r.asked.data), True) for r in group]
        if await send_through_outbox(self._sender, calls, dry, fulfilments):
            for _ in group:
                self._observer.occurrence("run")

    async def _faulted(self, run: Run, reason: str) -> None:
        """Keep the VM's reason; try again after a pause, or fail the run when waiting cannot help."""
        faults = await self._upkeeps.record_run_error(self.contract, run.request_id, reason)
        if final(reason, faults):
            if await self._store.mark_failed(
                SERVICE, self.contract, self.worker_id, run.request_id, reason[:500], self._clock.now()
            ):
                self._observer.occurrence("skipped", skip_reason(reason).value)
                self._chain_observer.request_outcome(SERVICE, "failed")
            return
        until = self._clock.now() + timedelta(seconds=backoff(faults))
        await self._store.renew(SERVICE, self.contract, self.worker_id, [run.request_id], until)
