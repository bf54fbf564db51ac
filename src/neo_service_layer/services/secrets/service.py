"""The secrets service: tenant secrets sealed by the enclave at write time, imported from Vault, AWS or
Azure, and unsealed only inside the enclave for the consumer a secret allows.

Parts: the :class:`SecretsService` use cases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.adapters.unit_of_work import secrets_uow_factory
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.routes import secrets as routes
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService

NAME = "secrets"


@asynccontextmanager
async def open_secrets(container: Container) -> AsyncIterator[SecretsService]:
    settings = container.settings
    policy = SourceUrlPolicy.of(settings.secret_sources_allow_hosts, settings.secret_sources_allow_http)
    yield SecretsService(
        uow=secrets_uow_factory(container.engine),
        enclave=lambda: container.enclave,
        audit=container.iam.audit_log,
        clock=container.clock,
        sources=partial(build_secret_source, policy=policy),
    )


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Tenant secrets sealed in the enclave, imported from Vault, AWS or Azure",
    routers=(routes.router,),
    open=open_secrets,
    migrations=Path(__file__).parent / "migrations",
    scopes=(
        ScopeGrant(SECRETS_WRITE, (Role.DEVELOPER,)),
        ScopeGrant(SECRETS_READ, (Role.DEVELOPER,)),
    ),
)
