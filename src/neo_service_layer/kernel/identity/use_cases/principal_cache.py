"""What the bearer check caches per credential, the tags it is filed under, and invalidation by tag.

An API key's entry is tagged with the key, its creator (``user:<id>``) and its tenant; an access token's
with its user, its ``jti``, its session and its tenant. Every write that changes what a principal
carries invalidates a tag: revoking a key (``api_key:``), signing out (``token:``, ``session:``),
removing a member, changing a role or disabling an account (``user:``, which also drops the API keys
that user created, revoked with the account).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.tokens import TokenClaims


@dataclass(slots=True)
class KeyEntry:
    """A checked API key: its principal, expiry and when its use was last recorded."""

    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """A checked access token: signature verified, not signed out, holder enabled and a member."""

    claims: TokenClaims
    principal: Principal


def credential_key(credential: str) -> str:
    """The cache key of a presented credential (a digest: the secret itself is not a dict key)."""
    return hashlib.sha256(credential.encode()).hexdigest()


def user_tag(user_id: str) -> str:
    return f"user:{user_id}"


def api_key_tag(key_id: str) -> str:
    return f"api_key:{key_id}"


def token_tag(jti: str) -> str:
    return f"token:{jti}"


def session_tag(session_id: str) -> str:
    return f"session:{session_id}"


def tenant_tag(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


class PrincipalCaches:
    """The two principal caches, and invalidation of a tag in both."""

    def __init__(self, api_keys: Cache[KeyEntry], tokens: Cache[TokenEntry]) -> None:
        self.api_keys = api_keys
        self.tokens = tokens

    async def forget(self, *tags: str) -> None:
        """Drop every principal derived from ``tags``, here and on every replica; call after commit."""
        await self.api_keys.invalidate(*tags)
        await self.tokens.invalidate(*tags)
