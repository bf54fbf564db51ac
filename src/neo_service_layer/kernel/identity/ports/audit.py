"""The audit-log port: services record security-relevant events; operators page and verify them.

Later services use :class:`AuditLog` to record key use (``Actions.KEY_USE``) and secret access
(``Actions.SECRET_ACCESS``)::

    await audit.record(AuditRecord(tenant_id=p.tenant_id, actor=p.actor, action=Actions.KEY_USE,
                                   outcome=Outcome.SUCCESS, target=key_id, request_id=rid))

``record`` appends in its own short transaction, serialised per tenant chain, so it can be called
after the business transaction committed (or failed: failures are audited too).
"""

from __future__ import annotations

from typing import Protocol

from neo_service_layer.kernel.identity.rules.audit import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainBreak,
)


class AuditLog(Protocol):
    async def record(self, record: AuditRecord) -> AuditEntry: ...

    async def page(self, query: AuditQuery) -> AuditPage: ...

    async def verify(self, tenant_id: str) -> tuple[int, ChainBreak | None]:
        """Recompute one tenant's chain: (entries checked, first break or ``None``)."""
        ...

    async def chains(self) -> list[str]:
        """Tenant ids that have a chain."""
        ...
