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

#: every type an event can have today (a subscription names these, or a prefix ``automation.*``)
EVENT_TYPES: tuple[str, ...] = (
    AUTOMATION_RUN_DELIVERED,
    AUTOMATION_RUN_FAILED,
    AUDIT_SECURITY,
    CHAIN_NOTIFICATION,
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


@dataclass(frozen=True, slots=True)
class TenantEvent:
    """What a producer publishes; the outbox gives it the tenant's next event id."""

    tenant_id: str
    type: str
    occurred_at: datetime
    data: Mapping[str, object] = field(default_factory=dict)
