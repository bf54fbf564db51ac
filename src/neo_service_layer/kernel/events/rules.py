"""Tenant event types and which audit actions are security events. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: a tenant job's run was delivered (webhook answered 2xx, or the contract call landed)
AUTOMATION_RUN_DELIVERED = "automation.run.delivered"
#: a tenant job's run failed for good (no retry left, or refused)
AUTOMATION_RUN_FAILED = "automation.run.failed"
#: a security-relevant entry was appended to the tenant's audit log
AUDIT_SECURITY = "audit.security"
#: an N3 contract notification a chain-filtered subscription of the tenant watches
CHAIN_NOTIFICATION = "chain.notification"

#: an on-chain request of a consumer contract the tenant watches changed state (``request_watches``)
REQUEST_SEEN = "request.seen"
REQUEST_FULFILLED = "request.fulfilled"
REQUEST_DELIVERED = "request.delivered"
REQUEST_CALLBACK_FAILED = "request.callback_failed"
REQUEST_FAILED = "request.failed"
REQUEST_TYPES: tuple[str, ...] = (
    REQUEST_SEEN,
    REQUEST_FULFILLED,
    REQUEST_DELIVERED,
    REQUEST_CALLBACK_FAILED,
    REQUEST_FAILED,
)

#: a NEP-17 transfer of a watched asset from or to a watched address (``transfers`` source)
TRANSFER_NEP17 = "transfer.nep17"
#: an ERC-20 transfer on Neo X of a watched token from or to a watched address (``transfers`` source)
TRANSFER_ERC20 = "transfer.erc20"

#: a run of the tenant's compute function ended with a result (off chain through the API, or on chain
#: for any contract's request: then published with the answer's outbox write)
COMPUTE_RUN_COMPLETED = "compute.run.completed"
#: a run of the tenant's compute function ended without one (its error, a trap, a limit, a refused fetch)
COMPUTE_RUN_FAILED = "compute.run.failed"

#: a key's or a secret's life changed (written with the audit entry of the change, which succeeded)
LIFECYCLE_TYPES: dict[str, str] = {
    "key.create": "key.created",
    "key.rotate": "key.rotated",
    "key.disable": "key.disabled",
    "key.destroy_schedule": "key.destroy_scheduled",
    "key.destroy_cancel": "key.destroy_cancelled",
    "key.destroy": "key.destroyed",
    "secret.write": "secret.written",
    "secret.import": "secret.imported",
    "secret.delete": "secret.deleted",
}

#: a key's current version is older than the maximum age (``NSL_KEY_MAX_AGE_DAYS``): once per version
KEY_ROTATION_DUE = "key.rotation_due"

#: every type an event can have today (a subscription names these, or a prefix ``automation.*``)
EVENT_TYPES: tuple[str, ...] = (
    AUTOMATION_RUN_DELIVERED,
    AUTOMATION_RUN_FAILED,
    AUDIT_SECURITY,
    CHAIN_NOTIFICATION,
    TRANSFER_NEP17,
    TRANSFER_ERC20,
    COMPUTE_RUN_COMPLETED,
    COMPUTE_RUN_FAILED,
    *REQUEST_TYPES,
    *LIFECYCLE_TYPES.values(),
    KEY_ROTATION_DUE,
)

#: audit actions that are security events whatever their outcome
SECURITY_ACTIONS: frozenset[str] = frozenset(
    {
        "apikey.create",
        "apikey.revoke",
        "apikey.refused",
        "auth.refresh_reuse",
        "auth.signing_key_rotate",
        "mfa.totp_enabled",
        "mfa.backup_code_used",
        "member.add",
        "member.role_change",
        "member.remove",
        "user.disable",
        "tenant.enclave_credentials",
        "key.rotate",
        "key.disable",
        "key.destroy_schedule",
        "key.destroy_cancel",
        "key.destroy",
    }
)
#: audit actions that are security events when they did not succeed
SECURITY_WHEN_REFUSED: frozenset[str] = frozenset({"auth.login"})


def is_security_action(action: str, outcome: str) -> bool:
    """Whether an audit entry is published as an ``audit.security`` event."""
    return action in SECURITY_ACTIONS or (action in SECURITY_WHEN_REFUSED and outcome != "success")


def lifecycle_type(action: str, outcome: str) -> str | None:
    """The ``key.*`` / ``secret.*`` event type of a successful audit entry, if it is one."""
    return LIFECYCLE_TYPES.get(action) if outcome == "success" else None


@dataclass(frozen=True, slots=True)
class TenantEvent:
    """What a producer publishes; the outbox gives it the tenant's next event id."""

    tenant_id: str
    type: str
    occurred_at: datetime
    data: Mapping[str, object] = field(default_factory=dict)
