"""The worker's pass over the tenant jobs: record each due occurrence once, fire the ones it claimed.

For each job whose wake time came (``JobStore.wakeful``), under the job's lock: the occurrences due
since the last scan are inserted as runs (``RUNNING`` under this worker's lease, or ``SKIPPED`` as
missed by the catch-up policy); an insert that finds the row already there claims nothing, so two
workers never fire one occurrence. Runs whose retry time came, or whose worker's lease ran out (a
killed worker), are claimed again. Then, outside the transaction, each claimed run is delivered
once: a signed POST, its outcome recorded (delivered, retried after a backoff, or failed, with the
HTTP status and the reason). A run of a block trigger is recorded ``PENDING`` by the block scanner
(``job_blocks``) and claimed here like a retry whose time came; its body adds the block, the
transaction and the notification or the check's data. Each outcome is counted (``JobObserver``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.ports import (
    Job,
    JobCallStore,
    JobObserver,
    JobStore,
    NullJobObserver,
    RunExtra,
    SecretBox,
    WebhookSender,
)
from neo_service_layer.services.automation.rules.job_actions import ContractAction, WebhookAction
from neo_service_layer.services.automation.rules.job_calls import CallState, SentTx
from neo_service_layer.services.automation.rules.jobs import (
    JOB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    JobState,
    Outcome,
    RunStatus,
    after_attempt,
    due_occurrences,
    lease_lost,
    next_occurrence,
    signature,
    webhook_body,
)
from neo_service_layer.services.automation.rules.schedule import scan_cursor
from neo_service_layer.services.automation.use_cases.job_calls import ContractCaller
from neo_service_layer.services.automation.use_cases.tenant_jobs import secret_label

log = get_logger("nsl.automation")

#: jobs looked at per pass
JOBS_PER_PASS = 100
MISSED = "missed: no worker ran at its time (catch-up: latest)"


@dataclass(frozen=True, slots=True)
class _Claimed:
    job: Job
    secret: bytes
    runs: list[tuple[int, int]]  # (occurrence, attempt)
    #: block triggers' runs: their due time and the body's additions
    extras: dict[int, RunExtra] = field(default_factory=dict)
    #: a contract call's grant (sealed by the enclave)
    grant: bytes | None = None


@dataclass(frozen=True, slots=True)
class CallParts:
    """What runs contract calls: the caller (dry run, build, send, look) and where transactions are kept."""

    caller: ContractCaller
    store: JobCallStore


def action_kind(job: Job) -> str:
    """The metrics label of the job's action: ``webhook`` or ``contract``."""
    return "contract" if isinstance(job.action, ContractAction) else "webhook"


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        box: SecretBox,
        webhooks: WebhookSender,
        clock: Clock,
        *,
        worker_id: str,
        lease_seconds: int = 60,
        observer: JobObserver | None = None,
        calls: CallParts | None = None,
    ) -> None:
        self._store = store
        self._box = box
        self._webhooks = webhooks
        self._clock = clock
        self._worker = worker_id
        self._lease = lease_seconds
        self._observer: JobObserver = observer or NullJobObserver()
        self._calls = calls

    async def close(self) -> None:
        """Close the webhook sender's kept connections (the worker stops)."""
        await self._webhooks.aclose()

    async def run_once(self) -> int:
        """One pass; the number of runs it delivered or recorded an attempt of."""
        now = int(self._clock.now().timestamp())
        attempted = 0
        for job_id, tenant_id in await self._store.wakeful(now, JOBS_PER_PASS):
            claimed = await self._claim(tenant_id, job_id)
            if claimed is not None:
                for occurrence, attempt in claimed.runs:
                    await self._deliver(claimed, occurrence, attempt)
                    attempted += 1
        return attempted

    async def _claim(self, tenant_id: str, job_id: str) -> _Claimed | None:
        moment = self._clock.now()
        now = int(moment.timestamp())
        lease_until = now + self._lease
        async with self._store.locked(tenant_id, job_id) as held:
            if held is None or held.job.state is not JobState.ACTIVE:
                return None
            job = held.job
            run, missed = due_occurrences(job.trigger, job.anchor, held.scanned, now, job.catch_up)
            skipped = await held.insert_runs(
                missed, RunStatus.SKIPPED, worker=None, lease_until=None, reason=MISSED, now=moment
            )
            if skipped:
                self._observer.run(action_kind(job), RunStatus.SKIPPED.value, "missed", len(skipped))
            fresh = await held.insert_runs(
                run, RunStatus.RUNNING, worker=self._worker, lease_until=lease_until, reason=None, now=moment
            )
            runs = [(occurrence, 1) for occurrence in fresh]
            for occurrence, attempt in await held.reclaim(now, self._worker, lease_until):
                why = lease_lost(attempt)
                if why is None:
                    runs.append((occurrence, attempt))
                else:
                    await held.fail(occurrence, why, moment)
                    self._observer.run(action_kind(job), RunStatus.FAILED.value)
            scanned = scan_cursor(run, now)
            upcoming = next_occurrence(job.trigger, job.anchor, scanned)
            pending = await held.pending_wake()
            wake = min((t for t in (upcoming, pending) if t is not None), default=None)
            await held.set_schedule(JobState.ACTIVE, max(scanned, held.scanned), wake)
            hook = isinstance(job.action, WebhookAction)
            secret = (
                self._box.open(secret_label(tenant_id, job_id), held.secret_sealed) if runs and hook else b""
            )
            extras = await held.extras([occurrence for occurrence, _ in runs])
        return _Claimed(job, secret, sorted(runs), extras, held.grant_sealed)

    async def _deliver(self, claimed: _Claimed, occurrence: int, attempt: int) -> None:
        job = claimed.job
        if isinstance(job.action, ContractAction):
            await self._call(claimed, job.action, occurrence, attempt)
            return
        extra = claimed.extras.get(occurrence)
        body = webhook_body(job.job_id, occurrence, job.action.data, extra.payload if extra else None)
        timestamp = int(self._clock.now().timestamp())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(claimed.secret, timestamp, body),
            JOB_HEADER: job.job_id,
        }
        delivery = await self._webhooks.post(job.action.url, body, headers)
        moment = self._clock.now()
        outcome = after_attempt(delivery, attempt, int(moment.timestamp()))
        kept = await self._store.finish(
            job.tenant_id, job.job_id, occurrence, self._worker, outcome, delivery.http_status, moment
        )
        log.info(
            "automation job run",
            job=job.job_id,
            occurrence=occurrence,
            attempt=attempt,
            status=outcome.status.value,
            http_status=delivery.http_status,
            recorded=kept,
        )
        if kept:
            self._count(claimed, occurrence, outcome)

    def _count(self, claimed: _Claimed, occurrence: int, outcome: Outcome) -> None:
        """An attempt's outcome, and for a delivery the seconds since the occurrence was due."""
        kind = action_kind(claimed.job)
        self._observer.run(kind, outcome.status.value)
        if outcome.status is RunStatus.DELIVERED:
            extra = claimed.extras.get(occurrence)
            due = extra.due_at if extra is not None else occurrence
            self._observer.latency(kind, max(0.0, self._clock.now().timestamp() - due))

    async def _call(self, claimed: _Claimed, action: ContractAction, occurrence: int, attempt: int) -> None:
        """One look at a contract call's run (``job_calls``): its transaction recorded before it is sent."""
        job = claimed.job
        if self._calls is None or claimed.grant is None:  # a worker started without a Neo network
            why = "no Neo network is configured on this worker"
            moment = self._clock.now()
            outcome = after_attempt(Delivery(None, why, retryable=True), attempt, int(moment.timestamp()))
            if await self._store.finish(
                job.tenant_id, job.job_id, occurrence, self._worker, outcome, None, moment
            ):
                self._count(claimed, occurrence, outcome)
            return
        store = self._calls.store
        sent = (await store.sent(job.tenant_id, job.job_id, [occurrence])).get(occurrence)

        async def record(tx: SentTx) -> bool:
            return await store.record(job.tenant_id, job.job_id, occurrence, self._worker, tx)

        result = await self._calls.caller.run(
            tenant_id=job.tenant_id,
            job_id=job.job_id,
            action=action,
            grant=claimed.grant,
            attempt=attempt,
            sent=sent,
            record=record,
        )
        if result is None:  # the lease was lost before sending: another worker has the run
            return
        kept = await store.finish(
            job.tenant_id, job.job_id, occurrence, self._worker, result, self._clock.now()
        )
        log.info(
            "automation job call",
            job=job.job_id,
            occurrence=occurrence,
            attempt=attempt,
            state=result.state.value,
            tx=result.tx.tx_hash if result.tx is not None else None,
            recorded=kept,
        )
        if kept and result.state is not CallState.SENT:
            status = {CallState.LANDED: RunStatus.DELIVERED, CallState.RETRY: RunStatus.RETRYING}.get(
                result.state, RunStatus.FAILED
            )
            self._count(claimed, occurrence, Outcome(status, result.retry_at, result.reason))
