"""``/api/v1/automation``: the status of upkeeps on chain (what runs, when next, at what cost, and why a
run did not happen). Registering, funding, pausing and cancelling are the owner's transactions on the
automation contract (``docs/automation.md``), never an API call: the upkeep's money is its owner's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.scopes import AUTOMATION_READ
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.status import UpkeepStatus, UpkeepStatusReader

router = APIRouter(prefix="/automation", tags=["automation"])

Caller = Annotated[Principal, Depends(require_scope(AUTOMATION_READ))]
UpkeepId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


class LastSkip(BaseModel):
    reason: str
    occurrence: int | None
    at: datetime | None


class RunOut(BaseModel):
    occurrence: int
    dueBlock: int  # noqa: N815
    status: str
    txHash: str | None  # noqa: N815
    performedBlock: int | None  # noqa: N815
    gasUsed: int | None  # noqa: N815
    charged: int | None
    reason: str | None
    attempts: int


class UpkeepOut(BaseModel):
    upkeepId: int  # noqa: N815
    state: str
    owner: str
    target: str
    method: str
    trigger: dict[str, Any]
    gasLimit: int  # noqa: N815
    catchUp: str  # noqa: N815
    balance: int
    baseFee: int  # noqa: N815
    runsLeft: int | None  # noqa: N815
    lowBalance: bool  # noqa: N815
    nextDueTime: datetime | None  # noqa: N815
    nextDueBlock: int | None  # noqa: N815
    lastSkip: LastSkip | None  # noqa: N815
    skips: int
    invalid: str | None
    runs: list[RunOut] | None = None


class UpkeepList(BaseModel):
    upkeeps: list[UpkeepOut]
    #: pass as ``after`` for the next page; ``None`` on the last page
    next: int | None


def _reader(request: Request) -> UpkeepStatusReader:
    container: Container = request.app.state.container
    parts = container.parts_of(SERVICE, AutomationParts)
    chain, contract = parts.on_chain()
    return UpkeepStatusReader(parts.upkeeps, chain.chain, contract=contract, now=chain.clock.now())


def _out(s: UpkeepStatus, *, with_runs: bool) -> UpkeepOut:
    row = s.row
    skip = (
        LastSkip(reason=row.skip_reason, occurrence=row.skip_occurrence, at=row.skipped_at)
        if row.skip_reason
        else None
    )
    runs = (
        [
            RunOut(
                occurrence=r.occurrence,
                dueBlock=r.due_block,
                status=r.status,
                txHash=r.tx_hash,
                performedBlock=r.performed_block,
                gasUsed=r.gas_used,
                charged=r.charged,
                reason=r.reason,
                attempts=r.attempts,
            )
            for r in s.runs
        ]
        if with_runs
        else None
    )
    return UpkeepOut(
        upkeepId=row.upkeep_id,
        state=s.state,
        owner=row.owner,
        target=row.target,
        method=row.method,
        trigger=row.trigger,
        gasLimit=row.gas_limit,
        catchUp=row.catch_up,
        balance=row.balance,
        baseFee=s.base_fee,
        runsLeft=s.runs_left,
        lowBalance=s.low_balance,
        nextDueTime=s.next_due_time,
        nextDueBlock=s.next_due_block,
        lastSkip=skip,
        skips=row.skips,
        invalid=row.invalid,
        runs=runs,
    )


@router.get("/upkeeps", summary="Upkeeps of the automation contract, by id, with balance and next due time")
async def list_upkeeps(
    request: Request,
    _caller: Caller,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="list ids above this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UpkeepList:
    found = await _reader(request).list(after=after, limit=limit)
    page = [_out(s, with_runs=False) for s in found]
    return UpkeepList(upkeeps=page, next=page[-1].upkeepId if len(page) == limit else None)


@router.get("/upkeeps/{upkeep_id}", summary="One upkeep with its latest runs and why a run did not happen")
async def get_upkeep(upkeep_id: UpkeepId, request: Request, _caller: Caller) -> UpkeepOut:
    return _out(await _reader(request).one(upkeep_id), with_runs=True)
