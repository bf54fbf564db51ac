"""Persistence of oracle request templates.

Every read and write of ``oracle_templates`` runs in a transaction scoped to the template's tenant
(``app.tenant_id`` on PostgreSQL, so row-level security applies); the owner index is read first by the
worker, which only knows the template id from the chain.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.enclave.wire.oracle import FetchSpec
from neo_service_layer.services.oracle.adapters.tables import oracle_template_owners, oracle_templates
from neo_service_layer.services.oracle.rules import OracleTemplate

T = oracle_templates


def _template(row: Any) -> OracleTemplate:
    created = row.created_at
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    return OracleTemplate(
        template_id=row.template_id,
        tenant_id=row.tenant_id,
        spec=FetchSpec.from_dict(json.loads(row.spec)),
        allowed_consumers=tuple(json.loads(row.allowed_consumers)),
        description=row.description,
        created_at=created,
    )


class OracleTemplates:
    """Implements ``services.oracle.TemplateStore`` over SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _scope(self, conn: AsyncConnection, tenant_id: str) -> None:
        if self._engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})

    async def add(self, template: OracleTemplate) -> None:
        async with self._engine.begin() as conn:
            await self._scope(conn, template.tenant_id)
            await conn.execute(
                insert(oracle_template_owners).values(
                    template_id=template.template_id, tenant_id=template.tenant_id
                )
            )
            await conn.execute(
                insert(T).values(
                    template_id=template.template_id,
                    tenant_id=template.tenant_id,
                    spec=json.dumps(template.spec.to_dict()),
                    allowed_consumers=json.dumps(list(template.allowed_consumers)),
                    description=template.description,
                    created_at=template.created_at,
                )
            )

    async def get(self, tenant_id: str, template_id: str) -> OracleTemplate | None:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            row = (
                await conn.execute(
                    select(T).where(T.c.tenant_id == tenant_id, T.c.template_id == template_id)
                )
            ).first()
        return _template(row) if row is not None else None

    async def list(self, tenant_id: str) -> list[OracleTemplate]:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (
                await conn.execute(select(T).where(T.c.tenant_id == tenant_id).order_by(T.c.created_at))
            ).all()
        return [_template(r) for r in rows]

    async def resolve(self, template_id: str) -> OracleTemplate | None:
        """The template named on chain, whoever owns it (the worker's lookup)."""
        async with self._engine.connect() as conn:
            owner = (
                await conn.execute(
                    select(oracle_template_owners.c.tenant_id).where(
                        oracle_template_owners.c.template_id == template_id
                    )
                )
            ).scalar()
        if owner is None:
            return None
        return await self.get(str(owner), template_id)
