"""Tenants register oracle request templates, referenced on chain as ``nsl://template/<id>``."""

from __future__ import annotations

import secrets

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.enclave.wire.oracle import FetchSpec
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.oracle.rules import OracleTemplate, new_template
from neo_service_layer.services.oracle.use_cases.fulfilment import TemplateStore


class TemplateNotFound(NotFound):
    code = "oracle-template-not-found"


class OracleTemplateService:
    def __init__(self, store: TemplateStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def register(
        self, tenant_id: str, spec: FetchSpec, allowed_consumers: list[str], description: str
    ) -> OracleTemplate:
        """A new template with an unguessable id (24 hex characters); ``InvalidInput`` if malformed."""
        template = new_template(
            secrets.token_hex(12), tenant_id, spec, allowed_consumers, description, self._clock.now()
        )
        await self._store.add(template)
        return template

    async def get(self, tenant_id: str, template_id: str) -> OracleTemplate:
        template = await self._store.get(tenant_id, template_id)
        if template is None:
            raise TemplateNotFound(f"no template {template_id}")
        return template

    async def list(self, tenant_id: str) -> list[OracleTemplate]:
        return await self._store.list(tenant_id)
