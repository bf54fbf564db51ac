"""The caller's tenant's audit log, newest first, with filters and an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, BeforeValidator

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.http.security import identity_of, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.audit import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"])

AuditReader = Annotated[Principal, Depends(require_scope(Scopes.AUDIT_READ))]


class AuditEntryOut(BaseModel):
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    request_id: str
    client_ip: str
    details: dict[str, str]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            seq=entry.seq,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            request_id=entry.request_id,
            client_ip=entry.client_ip,
            details=dict(entry.details),
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )


class AuditPageOut(BaseModel):
    tenant: str
    entries: list[AuditEntryOut]
    next_cursor: str | None


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor: not a cursor from a previous page") from exc


def _iso_only(value: object) -> object:
    """A date-time as RFC 3339 text, as the schema's ``format: date-time`` says (pydantic alone would also
    take a number of seconds)."""
    if isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit():
        raise ValueError("a date-time in RFC 3339 form, e.g. 2026-12-02T09:00:00Z")
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


@router.get("", summary="Page through the audit log of your tenant")
async def list_entries(
    principal: AuditReader,
    request: Request,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|failure|denied)$")] = None,
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPageOut:
    page = await identity_of(request).audit.page(
        principal,
        action=action,
        actor=actor,
        outcome=outcome,
        since=since,
        until=until,
        before_seq=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return AuditPageOut(
        tenant=principal.tenant_id,
        entries=[AuditEntryOut.of(e) for e in page.entries],
        next_cursor=encode_cursor(page.next_before_seq) if page.next_before_seq is not None else None,
    )
