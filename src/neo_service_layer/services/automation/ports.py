"""What the automation use cases need from the chain, their own tables and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ContractCall, ContractHash
from neo_service_layer.services.automation.rules.jobs import (
    Delivery,
    JobState,
    JobTrigger,
    Outcome,
    RunStatus,
)
from neo_service_layer.services.automation.rules.schedule import CatchUp
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


# Tenant jobs over the API ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """A tenant's job: a webhook called on a cron or interval trigger."""

    job_id: str
    tenant_id: str
    name: str
    trigger: JobTrigger
    url: str
    data: Any | None  # JSON sent as the body's ``data``
    catch_up: CatchUp
    state: JobState
    anchor: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JobRun:
    """One due occurrence of a job and what became of it."""

    occurrence: int
    status: RunStatus
    attempts: int
    http_status: int | None
    reason: str | None
    retry_at: int | None
    finished_at: datetime | None


class LockedJob(Protocol):
    """A job held by one transaction (the other workers skip it meanwhile); committed on exit."""

    job: Job
    scanned: int
    secret_sealed: bytes

    async def insert_runs(
        self,
        occurrences: Sequence[int],
        status: RunStatus,
        *,
        worker: str | None,
        lease_until: int | None,
        reason: str | None,
        now: datetime,
    ) -> list[int]:
        """Insert a run per occurrence unless one exists (the claim); the occurrences inserted."""
        ...

    async def reclaim(self, now: int, worker: str, lease_until: int) -> list[tuple[int, int]]:
        """Claim the runs due again (a retry whose time came, a lease that ran out): (occurrence,
        attempts so far, this one included)."""
        ...

    async def fail(self, occurrence: int, reason: str, now: datetime) -> None: ...

    async def pending_wake(self) -> int | None:
        """The earliest retry time or lease end among the unfinished runs."""
        ...

    async def set_schedule(self, state: JobState, scanned: int, wake_at: int | None) -> None: ...


class JobStore(Protocol):
    async def add(self, job: Job, secret_sealed: bytes, wake_at: int | None) -> None: ...

    async def jobs(self, tenant_id: str, *, limit: int, after: str | None) -> list[Job]: ...

    async def job(self, tenant_id: str, job_id: str) -> Job | None: ...

    async def runs(self, tenant_id: str, job_id: str, *, limit: int) -> list[JobRun]: ...

    async def delete(self, tenant_id: str, job_id: str) -> bool: ...

    def locked(
        self, tenant_id: str, job_id: str, *, wait: bool = False
    ) -> AbstractAsyncContextManager[LockedJob | None]:
        """The job under a row lock (``None``: gone, or, unless ``wait``, another worker holds it)."""
        ...

    async def wakeful(self, now: int, limit: int) -> list[tuple[str, str]]:
        """(job id, tenant id) of active jobs a worker should look at by ``now``."""
        ...

    async def finish(
        self,
        tenant_id: str,
        job_id: str,
        occurrence: int,
        worker: str,
        outcome: Outcome,
        http_status: int | None,
        now: datetime,
    ) -> bool:
        """Record an attempt's outcome if ``worker`` still holds the run; whether it did."""
        ...


class SecretBox(Protocol):
    """Seals a job's webhook secret at rest (``AesGcmBox``)."""

    def seal(self, label: str, plaintext: bytes) -> bytes: ...

    def open(self, label: str, sealed: bytes) -> bytes: ...


class WebhookSender(Protocol):
    async def check(self, url: str) -> None:
        """Refuse a URL the SSRF guard refuses (``InvalidSourceAddress``, 422)."""
        ...

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Delivery:
        """One attempt: never raises, a failure is in the ``Delivery``."""
        ...
