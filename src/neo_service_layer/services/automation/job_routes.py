"""``/api/v1/automation/jobs``: a tenant's jobs, each calling an HTTPS webhook (HMAC-signed, behind the
SSRF guard) on a cron or interval trigger, with its latest runs and why a run did not happen.

The webhook secret is in the answer to the creation only; the platform keeps it sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.ports import Job, JobRun
from neo_service_layer.services.automation.rules.cron import MAX_CRON_LENGTH
from neo_service_layer.services.automation.rules.jobs import JobTrigger
from neo_service_layer.services.automation.rules.schedule import CatchUp
from neo_service_layer.services.automation.rules.triggers import MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS
from neo_service_layer.services.automation.scopes import AUTOMATION_READ, AUTOMATION_WRITE
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.tenant_jobs import JobStatus, TenantJobs

router = APIRouter(prefix="/automation/jobs", tags=["automation"])

Reader = Annotated[Principal, Depends(require_scope(AUTOMATION_READ))]
Writer = Annotated[Principal, Depends(require_scope(AUTOMATION_WRITE))]
JOB_ID_PATTERN = "^job_[0-9a-f]{24}$"
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN)]

Scalar = Annotated[str, Field(max_length=256)] | Annotated[int, Field(ge=-(2**53), le=2**53)] | bool | None


class CronIn(Strict):
    cron: Annotated[
        str, Field(min_length=9, max_length=MAX_CRON_LENGTH, description="minute hour day month weekday, UTC")
    ]


class IntervalIn(Strict):
    everySeconds: Annotated[int, Field(ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS)]  # noqa: N815


class WebhookIn(Strict):
    #: the schema states https only; the oracle's ``NSL_ORACLE_ALLOW_HTTP`` (an operator's allowance,
    #: off in production) lets the SSRF guard accept http too, so the pattern is not enforced here
    url: Annotated[
        str,
        Field(min_length=9, max_length=2048, json_schema_extra={"pattern": "^https://"}),
    ]
    data: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], Scalar] | None,
        Field(max_length=32, description="sent as the body's `data`"),
    ] = None


class ActionIn(Strict):
    webhook: WebhookIn


class JobIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern="^[A-Za-z0-9 _.:@/-]+$")]
    trigger: CronIn | IntervalIn
    action: ActionIn
    catchUp: Literal["latest", "all"] = "latest"  # noqa: N815


class WebhookOut(BaseModel):
    url: str
    data: dict[str, Scalar] | None


class ActionOut(BaseModel):
    webhook: WebhookOut


class TriggerOut(BaseModel):
    cron: str | None = None
    everySeconds: int | None = None  # noqa: N815


class RunOut(BaseModel):
    occurrence: int
    scheduledAt: datetime  # noqa: N815
    status: Literal["running", "retrying", "delivered", "failed", "skipped"]
    attempts: int
    httpStatus: int | None  # noqa: N815
    reason: str | None
    retryAt: datetime | None  # noqa: N815
    finishedAt: datetime | None  # noqa: N815


class JobOut(BaseModel):
    jobId: str  # noqa: N815
    name: str
    state: Literal["active", "paused"]
    trigger: TriggerOut
    action: ActionOut
    catchUp: str  # noqa: N815
    createdAt: datetime  # noqa: N815
    nextDueTime: datetime | None  # noqa: N815
    runs: list[RunOut] | None = None


class JobCreated(BaseModel):
    job: JobOut
    #: HMAC-SHA256 key of the webhook's ``X-NSL-Signature``; shown this once
    webhookSecret: str  # noqa: N815


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
        scheduledAt=datetime.fromtimestamp(r.occurrence, UTC),
        status=r.status.value,
        attempts=r.attempts,
        httpStatus=r.http_status,
        reason=r.reason,
        retryAt=_time(r.retry_at),
        finishedAt=r.finished_at,
    )


def _out(job: Job, next_due: int | None, runs: list[JobRun] | None) -> JobOut:
    return JobOut(
        jobId=job.job_id,
        name=job.name,
        state=job.state.value,
        trigger=TriggerOut(cron=job.trigger.cron, everySeconds=job.trigger.every_seconds),
        action=ActionOut(webhook=WebhookOut(url=job.url, data=job.data)),
        catchUp=job.catch_up.value,
        createdAt=job.created_at,
        nextDueTime=_time(next_due),
        runs=[_run(r) for r in runs] if runs is not None else None,
    )


def _status(s: JobStatus) -> JobOut:
    return _out(s.job, s.next_due, s.runs)


@router.post(
    "",
    status_code=201,
    summary="Create a job calling a webhook on a cron or interval trigger (its secret is shown once)",
)
async def create_job(body: JobIn, principal: Writer, request: Request, meta: Meta) -> JobCreated:
    trigger = (
        JobTrigger(cron=body.trigger.cron)
        if isinstance(body.trigger, CronIn)
        else JobTrigger(every_seconds=body.trigger.everySeconds)
    )
    job, secret = await _jobs(request).create(
        principal,
        meta,
        name=body.name,
        trigger=trigger,
        url=body.action.webhook.url,
        data=body.action.webhook.data,
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
