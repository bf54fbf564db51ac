"""The tenant's audit log, the installation's health and backups (operators), and on-chain requests of
every service with why each is where it is."""

from __future__ import annotations

from datetime import datetime

from nsl_client.calls import Call, parser, register
from nsl_client.models import AuditPage, BackupStatus, OnChainRequest, OnChainRequestPage, OperatorHealth

AUDIT = register("audit_log", "GET", "/api/v1/audit", AuditPage)
SYSTEM_HEALTH = register("system_health", "GET", "/api/v1/system/health", OperatorHealth)
BACKUP_STATUS = register("backup_status", "GET", "/api/v1/backups/status", BackupStatus)
LIST_REQUESTS = register("list_requests", "GET", "/api/v1/requests", OnChainRequestPage)
GET_REQUEST = register("get_request", "GET", "/api/v1/requests/{service}/{request_id}", OnChainRequest)


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give a timezone-aware datetime (the server reads RFC 3339 with an offset)")
    return value.isoformat()


def audit_log(
    *,
    action: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> Call[AuditPage]:
    """One page of the tenant's audit log, newest first (``after``: the previous page's cursor),
    optionally of one ``action`` (``key.create``...), ``actor``, ``outcome`` (success, failure, denied)
    or time range; ``Client.iterate(audit_log)`` walks them all."""
    params = {
        "action": action,
        "actor": actor,
        "outcome": outcome,
        "since": _time(since),
        "until": _time(until),
        "cursor": after,
        "limit": limit,
    }
    return AUDIT.call(parser(AuditPage), params=params)


def system_health() -> Call[OperatorHealth]:
    """What an operator looks at first (``platform:admin``): readiness with details, the enclave's mode,
    chains and watcher lag, worker heartbeats."""
    return SYSTEM_HEALTH.call(parser(OperatorHealth))


def backup_status() -> Call[BackupStatus]:
    """The newest backup and the newest verified one, with their age (``platform:admin``)."""
    return BACKUP_STATUS.call(parser(BackupStatus))


def list_requests(
    *,
    service: str | None = None,
    state: str | None = None,
    consumer: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> Call[OnChainRequestPage]:
    """One page of on-chain requests, newest first: an operator's of every consumer, a tenant's of the
    consumers its subscriptions watch. ``service`` (randomness, oracle, compute, automation, ...),
    ``state`` (seen, fulfilling, fulfilled, delivered, callback_failed, failed), ``consumer`` (``0x``
    script hash); ``after``: the previous page's cursor. ``Client.iterate(list_requests)`` walks them."""
    params = {"service": service, "state": state, "consumer": consumer, "cursor": after, "limit": limit}
    return LIST_REQUESTS.call(parser(OnChainRequestPage), params=params)


def get_request(service: str, request_id: int, *, contract: str | None = None) -> Call[OnChainRequest]:
    """One on-chain request with its fulfilment transaction and why it is where it is (``contract``
    when the service has several)."""
    return GET_REQUEST.call(
        parser(OnChainRequest),
        path={"service": service, "request_id": request_id},
        params={"contract": contract},
    )
