"""Claiming a key, keeping or releasing its response, purging expired keys."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.idempotency.ports import KeyStore
from neo_service_layer.kernel.idempotency.rules import (
    IN_FLIGHT_LEASE,
    Claimed,
    InFlight,
    KeyScope,
    Outcome,
    StoredResponse,
    body_digest,
    judge,
)

#: claim attempts against concurrent repeats before answering "in flight"
_ATTEMPTS = 3


class Idempotency:
    """``pepper`` keys the body fingerprint (HMAC under a KEK-derived key): a request body may hold a
    password or a secret value, and a bare SHA-256 of it in the database could be guessed offline."""

    def __init__(
        self, store: KeyStore, clock: Clock, *, ttl: timedelta, pepper: Callable[[str], str]
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._pepper = pepper

    def fingerprint(self, body: bytes) -> str:
        return self._pepper(body_digest(body))

    async def begin(self, scope: KeyScope, fingerprint: str) -> Outcome:
        """Claim ``scope`` for this request, or say what a repeat gets instead."""
        for _ in range(_ATTEMPTS):
            now = self._clock.now()
            token = secrets.token_hex(16)
            locked_until, expires_at = now + IN_FLIGHT_LEASE, now + self._ttl
            if await self._store.insert_claim(scope, fingerprint, token, locked_until, expires_at):
                return Claimed(token)
            record = await self._store.find(scope)
            if record is None:  # released or purged meanwhile: try to claim it again
                continue
            outcome = judge(record, fingerprint, now)
            if outcome is not None:
                return outcome
            if await self._store.take_over(
                scope, record.claim_token, fingerprint, token, locked_until, expires_at
            ):
                return Claimed(token)
        return InFlight(1)

    async def finish(self, scope: KeyScope, token: str, response: StoredResponse) -> None:
        await self._store.complete(scope, token, response)

    async def abandon(self, scope: KeyScope, token: str) -> None:
        await self._store.release(scope, token)

    async def purge(self) -> int:
        """Delete every tenant's expired keys (tenant by tenant: the table has row-level security)."""
        now = self._clock.now()
        removed = 0
        for tenant_id in await self._store.tenant_ids():
            removed += await self._store.purge_expired(tenant_id, now)
        return removed
