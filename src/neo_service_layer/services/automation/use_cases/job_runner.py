"""The worker's pass over the tenant jobs: record each due occurrence once, fire the ones it claimed.

For each job whose wake time came (``JobStore.wakeful``), under the job's lock: the occurrences due
since the last scan are inserted as runs (``RUNNING`` under this worker's lease, or ``SKIPPED`` as
missed by the catch-up policy); an insert that finds the row already there claims nothing, so two
workers never fire one occurrence. Runs whose retry time came, or whose worker's lease ran out (a
killed worker), are claimed again. Then, outside the transaction, each claimed run is delivered
once: a signed POST, its outcome recorded (delivered, retried after a backoff, or failed, with the
HTTP status and the reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.ports import Job, JobStore, SecretBox, WebhookSender
from neo_service_layer.services.automation.rules.jobs import (
    JOB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    JobState,
    RunStatus,
    after_attempt,
    due_occurrences,
    lease_lost,
    next_occurrence,
    signature,
    webhook_body,
)
from neo_service_layer.services.automation.rules.schedule import scan_cursor
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
    ) -> None:
        self._store = store
        self._box = box
        self._webhooks = webhooks
        self._clock = clock
        self._worker = worker_id
        self._lease = lease_seconds

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
            await held.insert_runs(
                missed, RunStatus.SKIPPED, worker=None, lease_until=None, reason=MISSED, now=moment
            )
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
            scanned = scan_cursor(run, now)
            upcoming = next_occurrence(job.trigger, job.anchor, scanned)
            pending = await held.pending_wake()
            wake = min((t for t in (upcoming, pending) if t is not None), default=None)
            await held.set_schedule(JobState.ACTIVE, max(scanned, held.scanned), wake)
            secret = self._box.open(secret_label(tenant_id, job_id), held.secret_sealed) if runs else b""
        return _Claimed(job, secret, sorted(runs))

    async def _deliver(self, claimed: _Claimed, occurrence: int, attempt: int) -> None:
        job = claimed.job
        body = webhook_body(job.job_id, occurrence, job.data)
        timestamp = int(self._clock.now().timestamp())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(claimed.secret, timestamp, body),
            JOB_HEADER: job.job_id,
        }
        delivery = await self._webhooks.post(job.url, body, headers)
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
