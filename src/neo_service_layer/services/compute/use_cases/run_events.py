"""The ``compute.run.*`` event a function's owner hears of each run (off chain and on chain)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from neo_service_layer.enclave.wire.compute import ComputeCode
from neo_service_layer.kernel.events.rules import COMPUTE_RUN_COMPLETED, COMPUTE_RUN_FAILED, TenantEvent
from neo_service_layer.services.compute.rules import outcome_name


class RunFacts(Protocol):
    """What an event tells of a run: an off-chain ``RunRecord`` or the enclave's ``ComputeRun``."""

    @property
    def code(self) -> int: ...
    @property
    def detail(self) -> str: ...
    @property
    def result(self) -> bytes: ...
    @property
    def fuel_used(self) -> int: ...
    @property
    def wall_ms(self) -> int: ...
    @property
    def fetches(self) -> int: ...


def run_event(
    tenant_id: str, when: datetime, function_id: str, run: RunFacts, where: dict[str, object]
) -> TenantEvent:
    """The ``compute.run.*`` event of one run for the function's owner: how it ended and what it used,
    with the result's size and SHA-256 but never the result itself (it may be confidential; the owner
    reads an off-chain run by its id, an on-chain result is on chain). ``where`` says which run
    (``runId``) or which on-chain request (contract, request, consumer)."""
    data: dict[str, object] = {
        "functionId": function_id,
        **where,
        "outcome": outcome_name(run.code),
        "code": run.code,
        "fuelUsed": run.fuel_used,
        "wallMs": run.wall_ms,
        "fetches": run.fetches,
        "resultBytes": len(run.result),
        "resultSha256": hashlib.sha256(run.result).hexdigest(),
    }
    if run.detail:
        data["detail"] = run.detail
    kind = COMPUTE_RUN_COMPLETED if run.code == ComputeCode.SUCCESS else COMPUTE_RUN_FAILED
    return TenantEvent(tenant_id, kind, when, data)
