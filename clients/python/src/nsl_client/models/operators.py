"""What operators and auditors read: the audit log, the installation's health, backups, and on-chain
requests of every service with why each is where it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nsl_client.models.base import ApiModel, CamelModel


class AuditEntry(ApiModel):
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    #: success, failure or denied
    outcome: str
    request_id: str
    client_ip: str
    details: dict[str, str]
    #: the tenant's entries form a hash chain: each names the hash of the one before it
    prev_hash: str
    hash: str


class AuditPage(ApiModel):
    """Audit entries, newest first; ``next_cursor`` is the ``after`` of the next page."""

    tenant: str
    entries: list[AuditEntry]
    next_cursor: str | None

    @property
    def items(self) -> Sequence[AuditEntry]:
        return self.entries

    @property
    def cursor(self) -> str | None:
        return self.next_cursor


class Component(ApiModel):
    name: str
    up: bool
    critical: bool
    detail: str | None = None
    #: what the check reported besides (height, mode, sender GAS, active workers...)
    info: dict[str, Any]


class EnclaveStatus(ApiModel):
    #: ``hardware``, ``SIMULATION`` (no TEE protects the keys), or ``unknown`` when unreachable
    mode: str
    platform: str | None = None
    up: bool


class ChainStatus(ApiModel):
    #: ``neo-n3`` or ``evm``
    kind: str
    name: str
    #: ``None`` when its RPC did not answer
    height: int | None = None


class WatcherStatus(CamelModel):
    name: str
    block: int
    updated_at: datetime
    #: blocks between the chain's head and this cursor; ``None`` when the chain is not known for it
    lag: int | None = None


class WorkerStatus(CamelModel):
    worker_id: str
    hostname: str
    pid: int
    started_at: datetime
    last_seen_at: datetime
    #: a heartbeat within the last 30 seconds
    alive: bool


class OperatorHealth(ApiModel):
    """Readiness with its details, the enclave's mode, chains and watcher lag, worker heartbeats."""

    ready: bool
    components: list[Component]
    enclave: EnclaveStatus
    chains: list[ChainStatus]
    watchers: list[WatcherStatus]
    workers: list[WorkerStatus]


class Backup(CamelModel):
    backup_id: str
    created_at: datetime
    size: int
    #: when a restore test last passed for it; ``None`` when never
    verified_at: datetime | None = None
    restore_seconds: float | None = None
    age_seconds: float


class BackupStatus(CamelModel):
    #: ``local`` or ``s3``
    target: str
    #: ``False`` when the target cannot be read or no backup key is set (``detail`` says which)
    readable: bool
    detail: str | None = None
    count: int = 0
    newest: Backup | None = None
    newest_verified: Backup | None = None
    #: whether the worker takes scheduled backups
    scheduled: bool


class RequestReason(ApiModel):
    """Why a request is where it is: ``code`` for programs, ``text`` for people; ``stuck``: it will not
    move without someone acting."""

    code: str
    text: str
    stuck: bool


class FulfilmentTx(CamelModel):
    """The fulfilment transaction of a request being fulfilled."""

    tx_hash: str
    #: pending, included, expired or faulted
    status: str
    send_count: int
    valid_until_block: int
    last_sent_at: datetime | None = None
    included_block: int | None = None
    last_error: str | None = None


class OnChainRequest(CamelModel):
    service: str
    contract: str
    request_id: str
    consumer: str
    #: seen, fulfilling, fulfilled, delivered, callback_failed, failed
    state: str
    attempts: int
    request_block: int
    request_tx: str
    seen_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    tx_hash: str | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    failure_reason: str | None = None
    callback_failure: str | None = None
    chain_faults: int
    #: ``None`` once the request is done
    reason: RequestReason | None
    outbox: FulfilmentTx | None = None


class OnChainRequestPage(CamelModel):
    """On-chain requests, newest first; ``next_cursor`` is the ``after`` of the next page."""

    requests: list[OnChainRequest]
    next_cursor: str | None
    #: ``all`` (an operator) or ``watched`` (the consumers the tenant's subscriptions watch)
    scope: str

    @property
    def items(self) -> Sequence[OnChainRequest]:
        return self.requests

    @property
    def cursor(self) -> str | None:
        return self.next_cursor
