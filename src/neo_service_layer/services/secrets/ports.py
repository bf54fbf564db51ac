"""Ports of the secrets service: its storage (repositories and unit of work) and ``SecretSource``.

Storage: ``SecretsUnitOfWork`` holds one transaction over the tenant secrets (``SecretsRepository``) and
the remembered import sources (``SecretSourcesRepository``); adapters in ``adapters.unit_of_work``
(SQLAlchemy, with row-level security on PostgreSQL).

``SecretSource`` reads secrets a tenant keeps in an external provider, to import them. One adapter per
provider (``adapters.hashicorp_vault``, ``.aws``, ``.azure``); build one from its config with
``adapters.sources.build_secret_source``. Values come back wrapped in
:class:`~neo_service_layer.kernel.secret_values.Secret` so that no ``repr`` shows them; the secrets
service seals them in the enclave right away.

Errors: every failure is a :class:`SecretSourceError`. Its subclasses are also the domain's
``NotFound`` / ``DependencyUnavailable`` / ``PermissionDenied``, so the HTTP edge maps them by class.
Messages name the provider, the operation and the secret name, never a value or a credential.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias

from neo_service_layer.enclave.wire.errors import (
    DependencyUnavailable,
    DomainError,
    NotFound,
    PermissionDenied,
)
from neo_service_layer.enclave.wire.keys import TenantId
from neo_service_layer.kernel.db.ports import UnitOfWork
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.rules import TenantSecret


class SecretsRepository(Protocol):
    """Tenant secrets' metadata and sealed values (row-level security on PostgreSQL)."""

    async def get(self, tenant_id: TenantId, name: str) -> TenantSecret | None: ...

    async def for_tenant(self, tenant_id: TenantId) -> list[TenantSecret]: ...

    async def save(self, secret: TenantSecret, sealed: bytes | None = None) -> None:
        """Insert or update the metadata; with ``sealed``, also store it as the current version."""
        ...

    async def sealed(self, tenant_id: TenantId, name: str, version: int) -> bytes | None: ...

    async def delete(self, tenant_id: TenantId, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class RememberedSource:
    """An import source kept for re-sync: its configuration, sealed by the enclave."""

    tenant_id: TenantId
    name: str
    provider: str
    sealed_config: bytes
    created_at: datetime


class SecretSourcesRepository(Protocol):
    """Remembered import sources; putting one under a name already used replaces it."""

    async def put(self, source: RememberedSource) -> None: ...

    async def get(self, tenant_id: TenantId, name: str) -> RememberedSource | None: ...

    async def for_tenant(self, tenant_id: TenantId) -> list[RememberedSource]: ...


class SecretsUnitOfWork(UnitOfWork, Protocol):
    """One transaction over a tenant's secrets and remembered sources."""

    @property
    def secrets(self) -> SecretsRepository: ...

    @property
    def secret_sources(self) -> SecretSourcesRepository: ...


#: a unit of work for a tenant (its row-level security context on PostgreSQL)
SecretsUnitOfWorkFactory = Callable[[TenantId], SecretsUnitOfWork]


class SecretSourceError(DomainError):
    """The provider refused or failed the operation (see the subclasses for the usual cases)."""

    code = "secret-source-error"

    def __init__(self, message: str, *, provider: str, name: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.name = name


class SecretNotFoundInSource(SecretSourceError, NotFound):
    """The provider has no such secret (or no such version of it)."""

    code = "secret-source-not-found"


class SecretSourceUnavailable(SecretSourceError, DependencyUnavailable):
    """The provider could not be reached, timed out, throttled us or failed on its side (5xx)."""

    code = "secret-source-unavailable"


class SecretSourceDenied(SecretSourceError, PermissionDenied):
    """The provider refused our credentials (401) or their permissions (403)."""

    code = "secret-source-denied"


@dataclass(frozen=True, slots=True)
class SourcedSecret:
    """One secret value read from a provider.

    Attributes:
        name: the name the caller asked for (relative to the source's configured prefix).
        value: the raw bytes (UTF-8 of a text secret), hidden from ``repr``.
        version: the provider's version id, when it has one.
        updated_at: when this version was written, when the provider says.
    """

    name: str
    value: Secret[bytes]
    version: str | None = None
    updated_at: datetime | None = None


class SecretSource(Protocol):
    """Read-only access to one tenant's secrets in one external provider."""

    @property
    def provider(self) -> str:
        """Short provider name: ``"vault"``, ``"aws"`` or ``"azure"``."""
        ...

    async def list_names(self, prefix: str = "") -> list[str]:
        """Names of the secrets under ``prefix`` (relative to the configured prefix), sorted.

        Raises:
            SecretSourceError: a subclass for the usual failures.
        """
        ...

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        """Read the current (or the given) version of one secret.

        Raises:
            SecretNotFoundInSource: no such secret or version.
            SecretSourceDenied: credentials or permissions refused.
            SecretSourceUnavailable: the provider cannot be reached or failed.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and credentials held by the source."""
        ...


@dataclass(frozen=True, slots=True)
class VaultTokenAuth:
    """Authenticate to Vault with a fixed token."""

    token: Secret[str]


@dataclass(frozen=True, slots=True)
class VaultAppRoleAuth:
    """Authenticate to Vault with AppRole (``POST /v1/auth/<mount_point>/login``)."""

    role_id: Secret[str]
    secret_id: Secret[str]
    mount_point: str = "approle"


@dataclass(frozen=True, slots=True)
class VaultSourceConfig:
    """A HashiCorp Vault KV version 2 mount.

    Attributes:
        url: base address of Vault, e.g. ``https://vault.example:8200``.
        auth: a token, or an AppRole role id and secret id.
        mount_point: where the KV v2 engine is mounted (Vault's default is ``secret``).
        path_prefix: folder inside the mount that this tenant's names are relative to.
        namespace: Vault Enterprise / HCP namespace (sent as ``X-Vault-Namespace``).
        verify_tls: check the server certificate; ``ca_file`` replaces the system CAs when given.
        ca_file: PEM bundle of the CAs to trust for Vault.
        timeout_seconds: per HTTP request.
    """

    url: str
    auth: VaultTokenAuth | VaultAppRoleAuth
    mount_point: str = "secret"
    path_prefix: str = ""
    namespace: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class AwsStaticCredentials:
    """An AWS access key (the key id is an identifier and shown; the secret key and session token are not)."""

    access_key_id: str
    secret_access_key: Secret[str]
    session_token: Secret[str] | None = None


@dataclass(frozen=True, slots=True)
class AwsSourceConfig:
    """AWS Secrets Manager in one region.

    Attributes:
        region: e.g. ``eu-central-1``.
        endpoint_url: a VPC endpoint or a test server; ``None`` uses the public regional endpoint.
        credentials: a static access key; ``None`` uses boto3's default chain (environment, profile,
            web identity, container or instance role).
        name_prefix: prefix of this tenant's secret names; names given and returned are relative to it.
        timeout_seconds: connect and read timeout per request.
        max_attempts: total attempts per call, including botocore's retries (``standard`` mode).
    """

    region: str
    endpoint_url: str | None = None
    credentials: AwsStaticCredentials | None = None
    name_prefix: str = ""
    timeout_seconds: float = 10.0
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class AzureSourceConfig:
    """An Azure Key Vault.

    Attributes:
        vault_url: e.g. ``https://my-vault.vault.azure.net``.
        tenant_id: Entra ID tenant of the service principal (needed with ``client_secret``).
        client_id: the service principal, or the user-assigned managed identity when no secret is given.
        client_secret: the service principal's secret; ``None`` uses the managed identity.
        timeout_seconds: connect and read timeout per request.
        max_retries: retries of azure-core's retry policy (throttling, 5xx, connection errors).
    """

    vault_url: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: Secret[str] | None = None
    timeout_seconds: float = 10.0
    max_retries: int = 3


SecretSourceConfig: TypeAlias = VaultSourceConfig | AwsSourceConfig | AzureSourceConfig
