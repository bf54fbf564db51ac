"""Secrets a tenant stores for enclave-side use: names, versions, consumers, expiry (no values).

Only the standard library is imported here. A secret's value is sealed by the enclave at write time;
the database keeps the sealed blob per version and this module's metadata. The API never returns a
value: later services (oracle, compute, ...) ask for the sealed blob of the current version *as a
consumer*, and only consumers the tenant allowed get it, to have it unsealed inside the enclave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import NotFound, PermissionDenied
from neo_service_layer.enclave.wire.secret_labels import InvalidSecretInput as InvalidSecretInput
from neo_service_layer.enclave.wire.secret_labels import check_allowed_hosts as check_allowed_hosts
from neo_service_layer.enclave.wire.secret_labels import check_secret_name as check_secret_name
from neo_service_layer.enclave.wire.secret_labels import seal_label as seal_label
from neo_service_layer.enclave.wire.secret_labels import seal_payload as seal_payload

MAX_VALUE_BYTES = 64 * 1024
MAX_TTL = timedelta(days=3650)


class Consumer(StrEnum):
    """Services that may read a secret inside the enclave."""

    ORACLE = "oracle"
    COMPUTE = "compute"
    AUTOMATION = "automation"
    RANDOMNESS = "randomness"


class SecretSourceKind(StrEnum):
    MANUAL = "manual"
    VAULT = "vault"
    AWS = "aws"
    AZURE = "azure"


class TenantSecretNotFound(NotFound):
    code = "secret-not-found"


class SecretExpired(NotFound):
    code = "secret-expired"


class ConsumerNotAllowed(PermissionDenied):
    code = "consumer-not-allowed"


@dataclass(frozen=True, slots=True)
class SecretVersion:
    version: int
    created_at: datetime
    expires_at: datetime | None
    source: str  # "manual", or the provider an import read it from ("aws", "vault", "azure")
    size: int

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class TenantSecret:
    """Metadata of one secret; ``versions`` holds every stored version, oldest first."""

    tenant_id: str
    name: str
    consumers: frozenset[Consumer]
    current_version: int
    created_at: datetime
    updated_at: datetime
    versions: tuple[SecretVersion, ...] = ()
    #: hosts the current version may be sent to by the oracle (sealed with the value; none: nowhere)
    allowed_hosts: tuple[str, ...] = ()

    @property
    def current(self) -> SecretVersion:
        for item in self.versions:
            if item.version == self.current_version:
                return item
        raise TenantSecretNotFound(f"secret {self.name} has no version {self.current_version}")

    def check_consumer(self, consumer: Consumer, now: datetime) -> SecretVersion:
        """The current version if ``consumer`` may read it and it has not expired."""
        if consumer not in self.consumers:
            raise ConsumerNotAllowed(f"secret {self.name} is not shared with {consumer.value}")
        current = self.current
        if current.expired(now):
            raise SecretExpired(f"secret {self.name} expired")
        return current


def source_seal_label(name: str) -> str:
    """The enclave seal label of a remembered import source's configuration (with credentials)."""
    return f"secret-source:{check_secret_name(name)}"


def check_value(value: bytes) -> bytes:
    if not 1 <= len(value) <= MAX_VALUE_BYTES:
        raise InvalidSecretInput(f"value: 1-{MAX_VALUE_BYTES} bytes")
    return value


def expiry(now: datetime, ttl_seconds: int | None) -> datetime | None:
    if ttl_seconds is None:
        return None
    if not 1 <= ttl_seconds <= MAX_TTL.total_seconds():
        raise InvalidSecretInput(f"ttl_seconds: between 1 and {int(MAX_TTL.total_seconds())}")
    return now + timedelta(seconds=ttl_seconds)
