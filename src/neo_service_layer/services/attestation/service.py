"""The attestation service: enclave reports that bind the enclave's public keys and a caller's nonce,
and their verification.

Parts: the :class:`AttestationService` use cases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.services.attestation.adapters.verifier import ReportVerifier
from neo_service_layer.services.attestation.cli import attest_app
from neo_service_layer.services.attestation.routes import attestation as routes
from neo_service_layer.services.attestation.scopes import ATTESTATION_READ
from neo_service_layer.services.attestation.use_cases import AttestationService
from neo_service_layer.services.keys.api import keys_uow_factory

NAME = "attestation"


@asynccontextmanager
async def open_attestation(container: Container) -> AsyncIterator[AttestationService]:
    yield AttestationService(
        uow=keys_uow_factory(container.engine),
        enclave=lambda: container.enclave,
        audit=container.iam.audit_log,
        verifier=ReportVerifier(container.settings),
        role_keys=container.platform_keys,
    )


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Attestation reports of the enclave and their verification",
    routers=(routes.router,),
    open=open_attestation,
    commands=lambda _open: [Command("attest", attest_app)],
    scopes=(ScopeGrant(ATTESTATION_READ, (Role.DEVELOPER, Role.OPERATOR)),),
)
