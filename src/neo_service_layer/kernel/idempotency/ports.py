"""Where claimed keys and their responses are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from neo_service_layer.kernel.idempotency.rules import KeyRecord, KeyScope, StoredResponse


class KeyStore(Protocol):
    async def insert_claim(
        self, scope: KeyScope, fingerprint: str, token: str, locked_until: datetime, expires_at: datetime
    ) -> bool:
        """Claim a key nobody holds; ``False`` when a row for it exists already."""
        ...

    async def find(self, scope: KeyScope) -> KeyRecord | None: ...

    async def take_over(
        self,
        scope: KeyScope,
        previous_token: str,
        fingerprint: str,
        token: str,
        locked_until: datetime,
        expires_at: datetime,
    ) -> bool:
        """Claim a key whose row is expired or whose claim lapsed, if its claim is still
        ``previous_token`` (another repeat may have taken it first)."""
        ...

    async def complete(self, scope: KeyScope, token: str, response: StoredResponse) -> bool:
        """Keep the response of the claim ``token``; ``False`` when the claim was taken over."""
        ...

    async def release(self, scope: KeyScope, token: str) -> None:
        """Forget the claim ``token`` (its request failed with a 5xx or an exception)."""
        ...

    async def tenant_ids(self) -> list[str]: ...

    async def purge_expired(self, tenant_id: str, now: datetime) -> int:
        """Delete the tenant's rows expired at ``now``; how many."""
        ...
