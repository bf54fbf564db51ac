"""Automation: jobs (webhook or contract calls on cron, interval, event or condition) and upkeeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nsl_client.models.base import CamelModel


class Job(CamelModel):
    job_id: str
    name: str
    state: str
    trigger: dict[str, Any]
    action: dict[str, Any]
    catch_up: str
    created_at: datetime
    next_due_time: datetime | None
    next_due_block: int | None = None
    runs: list[dict[str, Any]] | None = None
    counts: dict[str, Any] | None = None


class JobCreated(CamelModel):
    job: Job
    #: the secret that signs this job's webhook calls, shown once
    webhook_secret: str | None


class JobPage(CamelModel):
    jobs: list[Job]
    next: str | None

    @property
    def items(self) -> Sequence[Job]:
        return self.jobs

    @property
    def cursor(self) -> str | None:
        return self.next


class Upkeep(CamelModel):
    upkeep_id: int
    state: str
    owner: str
    target: str
    method: str
    trigger: dict[str, Any]
    gas_limit: int
    catch_up: str
    balance: int
    base_fee: int
    runs_left: int | None
    low_balance: bool
    next_due_time: datetime | None
    next_due_block: int | None
    skips: int
    invalid: str | None


class UpkeepPage(CamelModel):
    upkeeps: list[Upkeep]
    next: int | None

    @property
    def items(self) -> Sequence[Upkeep]:
        return self.upkeeps

    @property
    def cursor(self) -> str | None:
        return None if self.next is None else str(self.next)
