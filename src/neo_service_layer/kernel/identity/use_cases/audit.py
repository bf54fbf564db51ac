"""Reading and verifying the audit log (recording goes straight through the ``AuditLog`` port)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.audit import AuditPage, AuditQuery, ChainBreak

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant_id: str
    entries: int
    broken: ChainBreak | None


class AuditService:
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    async def page(
        self,
        principal: Principal,
        *,
        action: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> AuditPage:
        """The caller's tenant's entries, newest first, filtered; ``next_before_seq`` pages on."""
        principal.require(Scopes.AUDIT_READ)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit: 1-{MAX_PAGE}")
        return await self.log.page(
            AuditQuery(
                tenant_id=principal.tenant_id,
                action=action,
                actor=actor,
                outcome=outcome,
                since=since,
                until=until,
                before_seq=before_seq,
                limit=limit,
            )
        )

    async def verify(self, tenant_id: str | None = None) -> list[ChainReport]:
        """Recompute one chain, or every chain; each report names the first broken link, if any."""
        tenants = [tenant_id] if tenant_id else await self.log.chains()
        reports = []
        for tenant in tenants:
            count, broken = await self.log.verify(tenant)
            reports.append(ChainReport(tenant, count, broken))
        return reports
