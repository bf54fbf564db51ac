"""``/api/v1/automation/jobs``: a tenant's jobs, each calling an HTTPS webhook (HMAC-signed, behind the
SSRF guard) or a contract method with one of the tenant's keys (signed in the enclave, only the call
granted at creation), on a cron, interval, event or condition trigger (block triggers and contract
calls need a Neo network), with its latest runs, counts per status and why a run did not happen.

The webhook secret is in the answer to the creation only; the platform keeps it sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT_ONCE
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.automation.job_action_models import (
    ActionIn,
    ActionOut,
    Scalar,
    action_in,
    action_out,
)
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.ports import Job, JobRun
from neo_service_layer.services.automation.rules.cron import MAX_CRON_LENGTH, InvalidTrigger
from neo_service_layer.services.automation.rules.job_triggers import (
    MAX_ARGS,
    MAX_JOB_NAME,
    MAX_SAFE_INT,
    MAX_SCALAR,
    EventFilter,
    JobCondition,
    JobEvent,
)
from neo_service_layer.services.automation.rules.jobs import JobTrigger
from neo_service_layer.services.automation.rules.schedule import CatchUp
from neo_service_layer.services.automation.rules.triggers import (
    MAX_FILTER_INDEX,
    MAX_FILTERS,
    MAX_INTERVAL_BLOCKS,
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
)
from neo_service_layer.services.automation.scopes import AUTOMATION_READ, AUTOMATION_WRITE
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.tenant_jobs import JobStatus, TenantJobs

router = APIRouter(prefix="/automation/jobs", tags=["automation"])

Reader = Annotated[Principal, Depends(require_scope(AUTOMATION_READ))]
Writer = Annotated[Principal, Depends(require_scope(AUTOMATION_WRITE))]
JOB_ID_PATTERN = "^job_[0-9a-f]{24}$"
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN)]


class CronIn(Strict):
    cron: Annotated[
        str, Field(min_length=9, max_length=MAX_CRON_LENGTH, description="minute hour day month weekday, UTC")
    ]


class IntervalIn(Strict):
    everySeconds: Annotated[int, Field(ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS)]  # noqa: N815


ContractHash = Annotated[str, Field(pattern="^0x[0-9a-fA-F]{40}$", description="script hash, 0x + 40 hex")]
FilterValue = (
    Annotated[str, Field(max_length=MAX_SCALAR)]
    | Annotated[int, Field(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
    | bool
)


class FilterIn(Strict):
    """Exactly one of ``value`` and ``hash160``."""

    index: Annotated[int, Field(ge=0, le=MAX_FILTER_INDEX, description="the event argument's position")]
    value: Annotated[
        FilterValue | None, Field(description="equal in Neo's encoding: int, bool, or a UTF-8 string")
    ] = None
    hash160: Annotated[
        str | None,
        Field(
            pattern="^0x[0-9a-fA-F]{40}$",
            description="equal to this script hash (0x + big-endian hex, as nodes show it): an account or "
            "contract argument such as Transfer's from and to",
        ),
    ] = None


class EventSpecIn(Strict):
    contract: ContractHash
    name: Annotated[str, Field(min_length=1, max_length=MAX_JOB_NAME, pattern="^[ -~]+$")]
    filters: Annotated[list[FilterIn], Field(max_length=MAX_FILTERS)] = Field(default_factory=list)


class EventIn(Strict):
    event: EventSpecIn


class ConditionSpecIn(Strict):
    contract: ContractHash
    method: Annotated[str, Field(min_length=1, max_length=MAX_JOB_NAME, pattern="^[A-Za-z_][A-Za-z0-9_]*$")]
    args: Annotated[list[Scalar], Field(max_length=MAX_ARGS)] = Field(default_factory=list)
    everyBlocks: Annotated[int, Field(ge=1, le=MAX_INTERVAL_BLOCKS)]  # noqa: N815


class ConditionIn(Strict):
    condition: ConditionSpecIn


class JobIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern="^[A-Za-z0-9 _.:@/-]+$")]
    trigger: CronIn | IntervalIn | EventIn | ConditionIn
    action: ActionIn
    catchUp: Literal["latest", "all"] = "latest"  # noqa: N815


class CallOut(BaseModel):
    transaction: str
    block: int | None
    gasUsed: int | None  # noqa: N815


class FundingOut(BaseModel):
    """A contract call's paying account (GAS in 10^-8 units): warn before it runs dry."""

    balance: int
    #: a run's cost as estimated: the dearest recent run (or maxSystemFee) and a network fee
    perRun: int  # noqa: N815
    runsLeft: int  # noqa: N815
    #: fewer than 10 runs left: send GAS to the account
    lowBalance: bool  # noqa: N815


class TriggerOut(BaseModel):
    cron: str | None = None
    everySeconds: int | None = None  # noqa: N815
    event: dict[str, Any] | None = None
    condition: dict[str, Any] | None = None


class RunOut(BaseModel):
    occurrence: int
    #: a time trigger's due time (``None`` for a block trigger's run: see ``block``)
    scheduledAt: datetime | None  # noqa: N815
    status: Literal["pending", "running", "sent", "retrying", "delivered", "failed", "skipped"]
    attempts: int
    httpStatus: int | None  # noqa: N815
    reason: str | None
    retryAt: datetime | None  # noqa: N815
    finishedAt: datetime | None  # noqa: N815
    #: a block trigger's run: the notification's (or the checked) block and the notification's transaction
    block: int | None = None
    txHash: str | None = None  # noqa: N815
    #: a contract call's run: its transaction (recorded before it is sent), and once in a block, where
    #: and the GAS it burnt
    call: CallOut | None = None


class JobOut(BaseModel):
    jobId: str  # noqa: N815
    name: str
    state: Literal["active", "paused"]
    trigger: TriggerOut
    action: ActionOut
    catchUp: str  # noqa: N815
    createdAt: datetime  # noqa: N815
    nextDueTime: datetime | None  # noqa: N815
    #: a condition's next checked height; the block scanner's cursor (blocks up to it are read)
    nextDueBlock: int | None = None  # noqa: N815
    scannedBlock: int | None = None  # noqa: N815
    runs: list[RunOut] | None = None
    #: runs per status (with one job)
    counts: dict[str, int] | None = None
    #: a contract call's paying account (with one job, when the chain answers)
    funding: FundingOut | None = None


class JobCreated(BaseModel):
    job: JobOut
    #: a webhook's HMAC-SHA256 key of ``X-NSL-Signature``, shown this once (``None`` for a contract call)
    webhookSecret: str | None  # noqa: N815


class JobList(BaseModel):
    jobs: list[JobOut]
    #: pass as ``after`` for the next page; ``None`` on the last page
    next: str | None


def _jobs(request: Request) -> TenantJobs:
    container: Container = request.app.state.container
    return container.parts_of(SERVICE, AutomationParts).jobs


def _time(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _run(r: JobRun) -> RunOut:
    return RunOut(
        occurrence=r.occurrence,
        scheduledAt=_time(r.occurrence) if r.block is None else None,
        status=r.status.value,
        attempts=r.attempts,
        httpStatus=r.http_status,
        reason=r.reason,
        retryAt=_time(r.retry_at),
        finishedAt=r.finished_at,
        block=r.block,
        txHash=r.tx_hash,
        call=CallOut(transaction=r.call_tx_hash, block=r.call_block, gasUsed=r.call_gas)
        if r.call_tx_hash is not None
        else None,
    )


def _out(job: Job, next_due: int | None, runs: list[JobRun] | None) -> JobOut:
    return JobOut(
        jobId=job.job_id,
        name=job.name,
        state=job.state.value,
        trigger=_trigger_out(job.trigger),
        action=action_out(job.action),
        catchUp=job.catch_up.value,
        createdAt=job.created_at,
        nextDueTime=_time(next_due),
        runs=[_run(r) for r in runs] if runs is not None else None,
    )


def _status(s: JobStatus) -> JobOut:
    out = _out(s.job, s.next_due, s.runs)
    out.nextDueBlock, out.scannedBlock = s.next_due_block, s.scanned_block
    out.counts = s.counts if s.runs is not None and s.counts else None
    money = s.funding
    if money is not None:
        out.funding = FundingOut(
            balance=money.balance, perRun=money.per_run, runsLeft=money.runs_left, lowBalance=money.low
        )
    return out


def _trigger_out(trigger: JobTrigger) -> TriggerOut:
    event, condition = trigger.event, trigger.condition
    return TriggerOut(
        cron=trigger.cron,
        everySeconds=trigger.every_seconds,
        event=event.as_dict() if event is not None else None,
        condition=condition.as_dict() if condition is not None else None,
    )


def _filter(given: FilterIn) -> EventFilter:
    value, hash160 = given.value, given.hash160
    if (value is None) == (hash160 is None):
        raise InvalidTrigger(f"event filter {given.index}: give exactly one of value and hash160")
    if value is None:
        return EventFilter.from_dict({"index": given.index, "hash160": hash160})
    return EventFilter(given.index, value)


def _trigger(given: CronIn | IntervalIn | EventIn | ConditionIn) -> JobTrigger:
    if isinstance(given, CronIn):
        return JobTrigger(cron=given.cron)
    if isinstance(given, IntervalIn):
        return JobTrigger(every_seconds=given.everySeconds)
    if isinstance(given, EventIn):
        spec = given.event
        filters = tuple(_filter(f) for f in spec.filters)
        return JobTrigger(event=JobEvent(spec.contract, spec.name, filters))
    check = given.condition
    return JobTrigger(
        condition=JobCondition(check.contract, check.method, check.everyBlocks, tuple(check.args))
    )


@router.post(
    "",
    status_code=201,
    summary="Create a job calling a webhook (its secret is shown once) or a contract with a tenant key, on a"
    " cron, interval, event or condition trigger",
    dependencies=[IDEMPOTENT_ONCE],
)
async def create_job(body: JobIn, principal: Writer, request: Request, meta: Meta) -> JobCreated:
    trigger = _trigger(body.trigger)
    job, secret = await _jobs(request).create(
        principal,
        meta,
        name=body.name,
        trigger=trigger,
        action=action_in(body.action),
        catch_up=CatchUp(body.catchUp),
    )
    return JobCreated(job=_status(job), webhookSecret=secret)


@router.get("", summary="The tenant's jobs, by id, with their next due time")
async def list_jobs(
    request: Request,
    principal: Reader,
    after: Annotated[str | None, Query(pattern=JOB_ID_PATTERN, description="list ids above this one")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    found = await _jobs(request).list(principal.tenant_id, limit=limit, after=after)
    page = [_status(s) for s in found]
    return JobList(jobs=page, next=page[-1].jobId if len(page) == limit else None)


@router.get("/{job_id}", summary="One job with its latest runs and why a run did not happen")
async def get_job(job_id: JobId, request: Request, principal: Reader) -> JobOut:
    return _status(await _jobs(request).one(principal.tenant_id, job_id))


@router.post("/{job_id}/pause", summary="Pause a job: nothing runs until it is resumed")
async def pause_job(job_id: JobId, request: Request, principal: Writer, meta: Meta) -> JobOut:
    return _status(await _jobs(request).pause(principal, meta, job_id))


@router.post(
    "/{job_id}/resume", summary="Resume a job from now on (what was due while paused is skipped: paused)"
)
async def resume_job(job_id: JobId, request: Request, principal: Writer, meta: Meta) -> JobOut:
    return _status(await _jobs(request).resume(principal, meta, job_id))


@router.delete("/{job_id}", status_code=204, summary="Delete a job and its runs")
async def delete_job(job_id: JobId, request: Request, principal: Writer, meta: Meta) -> Response:
    await _jobs(request).delete(principal, meta, job_id)
    return Response(status_code=204)
