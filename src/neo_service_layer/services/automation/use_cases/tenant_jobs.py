"""A tenant's jobs over the API: create (the webhook secret is returned once, then kept sealed), list,
read with the latest runs and the next due time, pause, resume and delete; each change is in the
tenant's audit log (the URL's host only: a path or query may carry the receiver's own tokens)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from neo_service_layer.enclave.wire.errors import DependencyUnavailable, InvalidInput, NotFound
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.services.automation.ports import (
    AccountBalances,
    ChainHeight,
    Job,
    JobGrants,
    JobRun,
    JobStore,
    SecretBox,
    WebhookSender,
)
from neo_service_layer.services.automation.rules.job_actions import ContractAction, JobAction, WebhookAction
from neo_service_layer.services.automation.rules.job_calls import Funding, funding
from neo_service_layer.services.automation.rules.jobs import JobState, JobTrigger, RunStatus, next_occurrence
from neo_service_layer.services.automation.rules.schedule import CatchUp, due_time_occurrences

#: runs shown with one job
RUNS_SHOWN = 20


#: audit actions: ``automation.job_create`` etc. (the tenant's audit log, with the job as target)
AUDIT_PREFIX = "automation.job_"


class JobNotFound(NotFound):
    code = "job-not-found"


class NoNetwork(InvalidInput):
    """An event or condition job needs a Neo network, and this deployment has none (422)."""

    code = "no-neo-network"


def secret_label(tenant_id: str, job_id: str) -> str:
    """The associated data of a job's sealed secret: a blob moved to another job does not open."""
    return f"automation-webhook:{tenant_id}:{job_id}"


@dataclass(frozen=True, slots=True)
class JobStatus:
    job: Job
    next_due: int | None
    runs: list[JobRun]
    #: a condition's next checked height; the block scanner's cursor (block triggers only)
    next_due_block: int | None = None
    scanned_block: int | None = None
    #: runs per status (the job's own counts; the metrics have no job label)
    counts: dict[str, int] = field(default_factory=dict)
    #: a contract call's paying account: its GAS and the runs it still pays for (``None``: unknown)
    funding: Funding | None = None


class TenantJobs:
    def __init__(
        self,
        store: JobStore,
        box: SecretBox,
        webhooks: WebhookSender,
        clock: Clock,
        audit: AuditLog,
        *,
        chain: ChainHeight | None = None,
        grants: JobGrants | None = None,
        balances: AccountBalances | None = None,
    ) -> None:
        self._store = store
        self._box = box
        self._webhooks = webhooks
        self._clock = clock
        self._audit = audit
        self._chain = chain
        self._grants = grants
        self._balances = balances

    async def _head(self) -> int:
        """The head block, where a block trigger starts (it sees the blocks after it)."""
        if self._chain is None:
            raise NoNetwork("no Neo network configured: event and condition triggers need one")
        return await self._chain.height()

    async def _record(self, who: Principal, meta: RequestMeta, op: str, job_id: str, **details: str) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=who.tenant_id,
                actor=who.actor,
                action=f"{AUDIT_PREFIX}{op}",
                outcome=Outcome.SUCCESS,
                target=f"job:{job_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )

    async def create(
        self,
        who: Principal,
        meta: RequestMeta,
        *,
        name: str,
        trigger: JobTrigger,
        action: JobAction,
        catch_up: CatchUp,
    ) -> tuple[JobStatus, str | None]:
        """The new job and, for a webhook, its secret (shown this once; only its sealed form is kept).

        A contract call is read by the enclave, which seals it as the only call the job's key signs
        (``grant``); the job keeps that grant and the key's account, which pays for the runs.
        """
        tenant_id = who.tenant_id
        now = self._clock.now()
        job_id = f"job_{secrets.token_hex(12)}"
        anchor = await self._head() if trigger.on_blocks else int(now.timestamp())
        secret: str | None = None
        grant: bytes | None = None
        if isinstance(action, WebhookAction):
            await self._webhooks.check(action.url)
            secret = f"whsec_{secrets.token_urlsafe(32)}"
            sealed = self._box.seal(secret_label(tenant_id, job_id), secret.encode())
            details = {"host": urlsplit(action.url).hostname or ""}
        else:
            if self._grants is None:
                raise NoNetwork("no Neo network configured: a contract call needs one")
            granted = await self._grants.grant(tenant_id, job_id, action)
            action = replace(action, account=granted.account, public_key=granted.public_key.hex())
            grant, sealed = granted.grant, b""
            details = {"contract": action.contract, "method": action.method, "key": action.key_id}
        job = Job(
            job_id=job_id,
            tenant_id=tenant_id,
            name=name,
            trigger=trigger,
            action=action,
            catch_up=catch_up,
            state=JobState.ACTIVE,
            anchor=anchor,
            created_at=now,
        )
        upcoming = next_occurrence(trigger, anchor, anchor)
        await self._store.add(job, sealed, upcoming, grant)
        await self._record(who, meta, "create", job.job_id, trigger=json.dumps(trigger.as_dict()), **details)
        return JobStatus(job, upcoming, [], _next_due_block(job, None)), secret

    async def list(self, tenant_id: str, *, limit: int, after: str | None) -> list[JobStatus]:
        now = int(self._clock.now().timestamp())
        found = await self._store.jobs(tenant_id, limit=limit, after=after)
        return [JobStatus(j, _next_due(j, now), [], _next_due_block(j, None)) for j in found]

    async def one(self, tenant_id: str, job_id: str) -> JobStatus:
        job = await self._store.job(tenant_id, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id}")
        runs = await self._store.runs(tenant_id, job_id, limit=RUNS_SHOWN)
        counts = await self._store.run_counts(tenant_id, job_id)
        scanned = await self._store.scanned_block() if job.trigger.on_blocks else None
        next_block = _next_due_block(job, scanned)
        now = int(self._clock.now().timestamp())
        money = await self._funding(job, runs)
        return JobStatus(job, _next_due(job, now), runs, next_block, scanned, counts, money)

    async def _funding(self, job: Job, runs: Sequence[JobRun]) -> Funding | None:
        """The paying account's GAS and runs left; ``None`` for a webhook or when the chain is away."""
        action = job.action
        if not isinstance(action, ContractAction) or self._balances is None:
            return None
        try:
            balance = await self._balances.gas_balance(action.account)
        except DependencyUnavailable:
            return None
        used = [r.call_gas for r in runs if r.call_gas is not None]
        return funding(balance, used, action.max_system_fee)

    async def pause(self, who: Principal, meta: RequestMeta, job_id: str) -> JobStatus:
        tenant_id = who.tenant_id
        async with self._store.locked(tenant_id, job_id, wait=True) as held:
            if held is None:
                raise JobNotFound(f"no job {job_id}")
            if held.job.state is JobState.ACTIVE:
                await held.set_schedule(JobState.PAUSED, held.scanned, None)
        await self._record(who, meta, "pause", job_id)
        return await self.one(tenant_id, job_id)

    async def resume(self, who: Principal, meta: RequestMeta, job_id: str) -> JobStatus:
        """Active again from now on; the occurrences due while paused are recorded as skipped (paused)."""
        tenant_id = who.tenant_id
        now = self._clock.now()
        moment = int(now.timestamp())
        async with self._store.locked(tenant_id, job_id, wait=True) as held:
            if held is None:
                raise JobNotFound(f"no job {job_id}")
            job = held.job
            if job.state is JobState.PAUSED and job.trigger.on_blocks:
                # blocks while paused are never seen: the trigger starts again after the head
                await held.restart_blocks(await self._head())
                await held.set_schedule(JobState.ACTIVE, moment, await held.pending_wake())
            elif job.state is JobState.PAUSED:
                newest, older = due_time_occurrences(
                    job.trigger.schedule(), job.anchor, held.scanned, moment, CatchUp.LATEST
                )
                await held.insert_runs(
                    [*older, *newest],
                    RunStatus.SKIPPED,
                    worker=None,
                    lease_until=None,
                    reason="paused",
                    now=now,
                )
                wake = _earliest(next_occurrence(job.trigger, job.anchor, moment), await held.pending_wake())
                await held.set_schedule(JobState.ACTIVE, moment, wake)
        await self._record(who, meta, "resume", job_id)
        return await self.one(tenant_id, job_id)

    async def delete(self, who: Principal, meta: RequestMeta, job_id: str) -> None:
        if not await self._store.delete(who.tenant_id, job_id):
            raise JobNotFound(f"no job {job_id}")
        await self._record(who, meta, "delete", job_id)


def _next_due(job: Job, now: int) -> int | None:
    return next_occurrence(job.trigger, job.anchor, now) if job.state is JobState.ACTIVE else None


def _next_due_block(job: Job, scanned: int | None) -> int | None:
    """A condition's next checked height after the scanner's cursor (or the start)."""
    condition = job.trigger.condition
    if condition is None or job.state is not JobState.ACTIVE:
        return None
    return condition.next_after(job.anchor, max(job.anchor, scanned or 0))


def _earliest(*times: int | None) -> int | None:
    return min((t for t in times if t is not None), default=None)
