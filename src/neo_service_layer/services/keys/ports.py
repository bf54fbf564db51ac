"""Ports of the keys and secrets services: their repositories, unit of work, and public-key crypto.

Adapters: ``adapters.db.keys_repositories`` / ``keys_unit_of_work`` (SQLAlchemy) and
``adapters.crypto.public_keys`` (verification and addresses with ``cryptography``/``coincurve``/pyblst).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, SignatureFormat, TenantId
from neo_service_layer.kernel.db.ports import UnitOfWork
from neo_service_layer.services.keys.rules import ManagedKey
from neo_service_layer.services.secrets.rules import TenantSecret


class KeysRepository(Protocol):
    """Tenant-visible key metadata (row-level security on PostgreSQL)."""

    async def add(self, key: ManagedKey) -> None:
        """Store a new key with all of its versions."""
        ...

    async def get(self, tenant_id: TenantId, key_id: KeyId) -> ManagedKey | None: ...

    async def for_tenant(self, tenant_id: TenantId) -> list[ManagedKey]: ...

    async def save(self, key: ManagedKey) -> None:
        """Update the key's fields and add any versions not stored yet."""
        ...


class SealedRecords(Protocol):
    """Sealed key records by (key id, version); no tenant column, no row-level security."""

    async def put(self, key_id: KeyId, version: int, sealed: bytes, created_at: datetime) -> None:
        """Insert or replace one record."""
        ...

    async def get(self, key_id: KeyId, version: int | None) -> bytes | None:
        """The record of ``version``, or of the newest version when ``None``."""
        ...

    async def delete_key(self, key_id: KeyId) -> int: ...


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
    async def put(self, source: RememberedSource) -> None: ...

    async def get(self, tenant_id: TenantId, name: str) -> RememberedSource | None: ...

    async def for_tenant(self, tenant_id: TenantId) -> list[RememberedSource]: ...


class KeysUnitOfWork(UnitOfWork, Protocol):
    @property
    def keys(self) -> KeysRepository: ...

    @property
    def sealed_records(self) -> SealedRecords: ...

    @property
    def secrets(self) -> SecretsRepository: ...

    @property
    def secret_sources(self) -> SecretSourcesRepository: ...

    async def tenant_ids(self) -> list[TenantId]:
        """Every tenant (jobs walk tenants one by one so that row-level security always applies)."""
        ...


KeysUnitOfWorkFactory = Callable[[TenantId | None], KeysUnitOfWork]


@dataclass(frozen=True, slots=True)
class KeyAddresses:
    """Addresses derived from a public key (``None`` where the kind has none)."""

    neo_address: str | None = None
    #: Neo script hash as usually written: ``0x`` + big-endian hex (the reverse of its byte order)
    neo_script_hash: str | None = None
    evm_address: str | None = None


class PublicKeyCrypto(Protocol):
    """Operations that need only public keys: done in the API process, no enclave involved."""

    def check_public_key(self, kind: KeyKind, public_key: bytes) -> None:
        """Raise ``InvalidInput`` unless ``public_key`` is a valid (compressed) key of ``kind``."""
        ...

    def verify(
        self,
        kind: KeyKind,
        fmt: SignatureFormat,
        public_key: bytes,
        message: bytes,
        signature: bytes,
        network_magic: int | None = None,
    ) -> bool:
        """True when ``signature`` over ``message`` is valid for ``public_key`` in format ``fmt``."""
        ...

    def addresses(self, kind: KeyKind, public_key: bytes) -> KeyAddresses: ...


@dataclass(frozen=True, slots=True)
class AttestationVerdict:
    """Outcome of verifying an attestation report (see ``enclave.attestation.verify_report``)."""

    ok: bool
    mode: str | None
    measurement: str | None
    keys: Sequence[dict[str, object]]
    problems: Sequence[str]
    notes: Sequence[str]


class AttestationVerifier(Protocol):
    def verify(
        self, report: dict[str, object], nonce: bytes, expected_public_keys: Sequence[bytes]
    ) -> AttestationVerdict: ...
