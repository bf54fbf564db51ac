"""The secrets service's public interface for other services: a tenant secret's sealed value for a
named consumer (the oracle injects it into a request; only the enclave can unseal it), and the SSRF
guard for tenant-given URLs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from neo_service_layer.kernel.container import Container
from neo_service_layer.services.secrets.adapters.pinned_sessions import PinnedSessions
from neo_service_layer.services.secrets.adapters.url_guard import InvalidSourceAddress, SourceUrlPolicy
from neo_service_layer.services.secrets.rules import Consumer
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService

#: (tenant, secret name) -> (seal label ``secret:<name>:v<version>``, sealed blob)
SealedSecretReader: TypeAlias = Callable[[str, str], Awaitable[tuple[str, bytes]]]

#: the host-side SSRF guard (``adapters.url_guard``, ``adapters.pinned_addresses``) is exported for other
#: services that call tenant-given URLs (automation's and subscriptions' webhooks, over ``PinnedSessions``)
__all__ = [
    "Consumer",
    "InvalidSourceAddress",
    "PinnedSessions",
    "SealedSecretReader",
    "SourceUrlPolicy",
    "sealed_secret_reader",
]


def sealed_secret_reader(container: Container, consumer: Consumer) -> SealedSecretReader:
    """Reads a secret's current sealed version for ``consumer`` (``NotFound`` / ``PermissionDenied``)."""

    async def read(tenant: str, name: str) -> tuple[str, bytes]:
        secrets = container.parts_of("secrets", SecretsService)
        return await secrets.sealed_for_consumer(tenant, name, consumer)

    return read
