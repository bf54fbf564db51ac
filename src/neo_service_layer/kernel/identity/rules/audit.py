"""The audit log: security-relevant events, hash-chained per tenant for tamper evidence.

Each tenant has its own chain (``seq`` 1, 2, ...). An entry's hash is SHA-256 over a canonical JSON
encoding of its fields and the previous entry's hash, so editing, deleting or reordering an entry breaks
every later link. Entries never hold secret values; ``details`` is for ids, names and reasons.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class Actions:
    """Action names recorded by the identity services (later services add their own)."""

    LOGIN = "auth.login"
    REFRESH = "auth.refresh"
    REFRESH_REUSE = "auth.refresh_reuse"
    LOGOUT = "auth.logout"
    MFA_ENROLL = "mfa.totp_enroll"
    MFA_ENABLED = "mfa.totp_enabled"
    MFA_BACKUP_CODE_USED = "mfa.backup_code_used"
    API_KEY_CREATE = "apikey.create"
    API_KEY_REVOKE = "apikey.revoke"
    API_KEY_REFUSED = "apikey.refused"
    TENANT_CREATE = "tenant.create"
    TENANT_ENCLAVE_CREDENTIALS = "tenant.enclave_credentials"
    MEMBER_ADD = "member.add"
    MEMBER_ROLE_CHANGE = "member.role_change"
    MEMBER_REMOVE = "member.remove"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    SIGNING_KEY_ROTATE = "auth.signing_key_rotate"
    RATE_LIMITED = "ratelimit.exceeded"
    KEY_USE = "key.use"
    SECRET_ACCESS = "secret.access"  # noqa: S105 (an action name)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, for the audit log (and per-IP lockout)."""

    request_id: str = ""
    client_ip: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What a service asks to record; the log adds sequence, time and hashes."""

    tenant_id: str
    actor: str
    action: str
    outcome: Outcome
    target: str = ""
    request_id: str = ""
    client_ip: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A stored entry, with its place in the tenant's chain."""

    tenant_id: str
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    outcome: str
    target: str
    request_id: str
    client_ip: str
    details: Mapping[str, str]
    prev_hash: str
    hash: str


def canonical_time(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: the same text whether the database kept the zone or not."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    tenant_id: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    outcome: str,
    target: str,
    request_id: str,
    client_ip: str,
    details: Mapping[str, str],
    prev_hash: str,
) -> str:
    document: dict[str, Any] = {
        "tenant_id": tenant_id,
        "seq": seq,
        "occurred_at": canonical_time(occurred_at),
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "target": target,
        "request_id": request_id,
        "client_ip": client_ip,
        "details": dict(sorted(details.items())),
        "prev_hash": prev_hash,
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def chain_entry(record: AuditRecord, *, seq: int, occurred_at: datetime, prev_hash: str) -> AuditEntry:
    """The entry that follows ``prev_hash`` at position ``seq``."""
    details = {str(k): str(v) for k, v in record.details.items()}
    digest = entry_hash(
        tenant_id=record.tenant_id,
        seq=seq,
        occurred_at=occurred_at,
        actor=record.actor,
        action=record.action,
        outcome=record.outcome.value,
        target=record.target,
        request_id=record.request_id,
        client_ip=record.client_ip,
        details=details,
        prev_hash=prev_hash,
    )
    return AuditEntry(
        tenant_id=record.tenant_id,
        seq=seq,
        occurred_at=occurred_at,
        actor=record.actor,
        action=record.action,
        outcome=record.outcome.value,
        target=record.target,
        request_id=record.request_id,
        client_ip=record.client_ip,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link that does not hold, and why."""

    tenant_id: str
    seq: int
    reason: str


def verify_chain(
    tenant_id: str, entries: Sequence[AuditEntry], *, start_prev_hash: str = GENESIS_HASH, start_seq: int = 1
) -> ChainBreak | None:
    """Recompute the hashes of ``entries`` (in ``seq`` order); return the first break, or ``None``."""
    prev = start_prev_hash
    expected_seq = start_seq
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainBreak(tenant_id, expected_seq, f"entry {expected_seq} is missing (found {entry.seq})")
        if entry.prev_hash != prev:
            return ChainBreak(tenant_id, entry.seq, "previous-hash link does not match the previous entry")
        recomputed = entry_hash(
            tenant_id=entry.tenant_id,
            seq=entry.seq,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            action=entry.action,
            outcome=entry.outcome,
            target=entry.target,
            request_id=entry.request_id,
            client_ip=entry.client_ip,
            details=entry.details,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash or entry.tenant_id != tenant_id:
            return ChainBreak(tenant_id, entry.seq, "content does not match its hash (entry was altered)")
        prev = entry.hash
        expected_seq += 1
    return None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters for paging through one tenant's entries, newest first."""

    tenant_id: str
    action: str | None = None
    actor: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None  # cursor: entries with a smaller seq
    limit: int = 50


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    next_before_seq: int | None
