"""The secrets unit of work: one transaction over a tenant's secrets and remembered import sources.

Always opened for a tenant: on PostgreSQL ``SqlUnitOfWork`` sets it as the transaction's
``app.tenant_id``, which the row-level security policies of the secrets tables check.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.services.secrets.adapters.repositories.secret_sources import SqlSecretSources
from neo_service_layer.services.secrets.adapters.repositories.tenant_secrets import SqlSecrets


class SqlSecretsUnitOfWork(SqlUnitOfWork):
    """Implements ``ports.SecretsUnitOfWork``."""

    def __init__(self, engine: AsyncEngine, tenant_id: str) -> None:
        super().__init__(engine, tenant_id)
        self.secrets = SqlSecrets(self)
        self.secret_sources = SqlSecretSources(self)


def secrets_uow_factory(engine: AsyncEngine) -> Callable[[str], SqlSecretsUnitOfWork]:
    def make(tenant_id: str) -> SqlSecretsUnitOfWork:
        return SqlSecretsUnitOfWork(engine, tenant_id)

    return make
