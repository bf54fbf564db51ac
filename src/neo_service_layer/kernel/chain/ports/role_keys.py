"""Which enclave key plays which role (``chain_service_keys``), with its sealed record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable


class RoleKeyStore(Protocol):
    async def service_key(self, role: str) -> tuple[str, str, bytes] | None:
        """(key id, kind, public key) of the enclave key playing ``role``."""
        ...

    async def service_keys(self) -> Mapping[str, tuple[str, str, bytes]]:
        """Every role's key: role -> (key id, kind, public key)."""
        ...

    async def put_service_key(
        self, role: str, key_id: str, kind: str, public_key: bytes, sealed: bytes, version: int, now: datetime
    ) -> bool:
        """Record a new role key and its sealed record; False if ``role`` already has a key."""
        ...


@runtime_checkable
class PublishesKeys(Protocol):
    """Service parts whose platform public keys ``GET /api/v1/neo/network`` shows (name -> hex)."""

    async def published_keys(self) -> Mapping[str, str]: ...
