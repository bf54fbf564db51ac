"""What the automation use cases need from the chain, their own tables and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from neo_service_layer.enclave.wire.automation import JobGrant
from neo_service_layer.kernel.chain.ports.chain import BlockEvents, Chain, ContractCall, ContractHash
from neo_service_layer.services.automation.rules.job_actions import ContractAction, JobAction
from neo_service_layer.services.automation.rules.job_calls import CallResult, SentTx
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
    """A tenant's job: a webhook or a contract call, on a time or block trigger."""

    job_id: str
    tenant_id: str
    name: str
    trigger: JobTrigger
    action: JobAction
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
    #: a block trigger's run: the block (of the notification, or the height checked) and the
    #: notification's transaction
    block: int | None = None
    tx_hash: str | None = None
    #: a contract call's run: its transaction (recorded before it was sent), and once in a block, the
    #: block and the GAS it burnt
    call_tx_hash: str | None = None
    call_block: int | None = None
    call_gas: int | None = None


@dataclass(frozen=True, slots=True)
class RunExtra:
    """What a block trigger's run carries to its delivery: when it was recorded and the body's
    additions (:func:`rules.job_triggers.event_payload`, ``condition_payload``)."""

    due_at: int
    payload: dict[str, Any]


class LockedJob(Protocol):
    """A job held by one transaction (the other workers skip it meanwhile); committed on exit."""

    job: Job
    scanned: int
    secret_sealed: bytes
    #: a contract call's grant, sealed by the enclave (``None`` for a webhook)
    grant_sealed: bytes | None

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

    async def extras(self, occurrences: Sequence[int]) -> dict[int, RunExtra]:
        """The block runs among ``occurrences``: their due time and body additions."""
        ...

    async def restart_blocks(self, since_block: int) -> None:
        """A block trigger sees only the blocks after ``since_block`` from now on (resumed)."""
        ...


class JobStore(Protocol):
    async def add(
        self, job: Job, secret_sealed: bytes, wake_at: int | None, grant_sealed: bytes | None = None
    ) -> None: ...

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

    async def run_counts(self, tenant_id: str, job_id: str) -> dict[str, int]:
        """How many runs the job has in each status."""
        ...

    async def scanned_block(self) -> int | None:
        """The block scanner's cursor: blocks up to it are read (``None``: never ran)."""
        ...


@dataclass(frozen=True, slots=True)
class BlockJob:
    """An active job on a block trigger, as the block scanner reads it."""

    job_id: str
    tenant_id: str
    trigger: JobTrigger
    catch_up: CatchUp
    anchor: int  # the start block: a condition is checked at anchor + k * every
    since_block: int  # only blocks after it are seen (the start, or the block it was resumed at)
    kind: str  # the action's kind (``webhook``...), a metrics label


@dataclass(frozen=True, slots=True)
class BlockRun:
    """A run the block scanner found: its occurrence, block, transaction and the body's additions."""

    occurrence: int
    block: int
    tx_hash: str | None
    payload: dict[str, Any]


class JobBlockStore(Protocol):
    """The block scanner's durable cursor and its writes of runs (``adapters/job_block_store.py``)."""

    async def cursor(self) -> int | None: ...

    async def move_cursor(self, block: int, now: datetime) -> None:
        """Blocks up to ``block`` are read (never moves back)."""
        ...

    async def block_jobs(self) -> list[BlockJob]: ...

    async def record(self, job: BlockJob, runs: Sequence[BlockRun], now: datetime) -> int:
        """Insert each run unless it exists (``PENDING``, due now) if the job is still active and
        ``block > since_block``, and wake the job; how many were inserted."""
        ...


class JobRunJanitor(Protocol):
    """Deletes old finished runs (``adapters/job_block_store.py``)."""

    async def tenants(self) -> list[str]: ...

    async def delete_finished(self, tenant_id: str, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` delivered, failed or skipped runs finished before ``before``."""
        ...


class JobObserver(Protocol):
    """Tenant-job runs by action kind and outcome; no job or tenant label (cardinality)."""

    def run(self, kind: str, outcome: str, reason: str = "", count: int = 1) -> None:
        """``delivered``, ``retrying``, ``failed`` or ``skipped`` (with the reason)."""
        ...

    def latency(self, kind: str, seconds: float) -> None:
        """From the occurrence's due time to its delivery."""
        ...


class NullJobObserver:
    def run(self, kind: str, outcome: str, reason: str = "", count: int = 1) -> None:
        return None

    def latency(self, kind: str, seconds: float) -> None:
        return None


class ChainHeight(Protocol):
    """The head block, to start a block trigger's job (the API reads it)."""

    async def height(self) -> int: ...


class AccountBalances(Protocol):
    """GAS of an account (a contract job's paying key), for its status."""

    async def gas_balance(self, account: str | None = None) -> int: ...


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

    async def aclose(self) -> None:
        """Close the connections kept between calls (the worker stops)."""
        ...


class JobChains(Protocol):
    """The chain as a tenant job's key sees it: dry runs with its account as signer, transactions it
    pays for, signed by the enclave within the job's grant (``adapters.job_chain``)."""

    def for_job(self, tenant_id: str, job_id: str, action: ContractAction, grant: bytes) -> Chain: ...


class JobGrants(Protocol):
    """The enclave's reading of a job's call, sealed as the only call the job's key signs for it."""

    async def grant(self, tenant_id: str, job_id: str, action: ContractAction) -> JobGrant:
        """Raises ``InvalidAction`` when no Neo network is configured; the enclave's refusals
        (``PolicyDenied``, ``KeyNotFound``...) as they come."""
        ...


class JobCallStore(Protocol):
    """A contract call's transaction on its run (``adapters.job_call_store``), under the run's lease."""

    async def sent(self, tenant_id: str, job_id: str, occurrences: Sequence[int]) -> dict[int, SentTx]:
        """The transactions recorded on these runs."""
        ...

    async def record(self, tenant_id: str, job_id: str, occurrence: int, worker: str, tx: SentTx) -> bool:
        """Keep ``tx`` on the run before it is sent, if ``worker`` still holds it; whether it did."""
        ...

    async def finish(
        self, tenant_id: str, job_id: str, occurrence: int, worker: str, result: CallResult, now: datetime
    ) -> bool:
        """Record a look's result if ``worker`` still holds the run; whether it did."""
        ...
