"""Ports of the keys service: its repositories and unit of work, and public-key crypto.

Adapters: ``adapters.unit_of_work`` over ``adapters.repositories`` (SQLAlchemy) and
``adapters.public_keys`` (verification and addresses with ``cryptography``/``coincurve``/pyblst).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, SignatureFormat, TenantId
from neo_service_layer.kernel.db.ports import UnitOfWork
from neo_service_layer.services.keys.rules import ManagedKey


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


class KeysUnitOfWork(UnitOfWork, Protocol):
    @property
    def keys(self) -> KeysRepository: ...

    @property
    def sealed_records(self) -> SealedRecords: ...

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
