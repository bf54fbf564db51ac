"""Ports of the identity services: credential primitives and the identity repositories.

Adapters: ``adapters.auth`` (argon2, AES-GCM secret box, ES256 JWT, TOTP) and
``adapters.db.identity_*`` (SQLAlchemy repositories in one unit of work).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from neo_service_layer.kernel.db.ports import UnitOfWork
from neo_service_layer.kernel.identity.rules.accounts import Membership, Role, Tenant, TenantId, User, UserId
from neo_service_layer.kernel.identity.rules.api_keys import ApiKey
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy, LockoutState
from neo_service_layer.kernel.identity.rules.tokens import RefreshToken, SigningKey, TokenClaims


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id). Async because hashing is deliberately CPU-heavy."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches; False otherwise (never raises for a mismatch)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class SecretBox(Protocol):
    """Authenticated encryption of small secrets at rest, bound to a purpose label (the AAD)."""

    def seal(self, label: str, plaintext: bytes) -> bytes: ...

    def open(self, label: str, sealed: bytes) -> bytes:
        """Raise ``ValueError`` when the blob was altered or sealed under another label or key."""
        ...

    def mac(self, purpose: str, value: str) -> str:
        """Keyed hash (HMAC-SHA256 under a pepper derived for ``purpose``), hex encoded."""
        ...


class TokenCodec(Protocol):
    """Signs and verifies access tokens (ES256 JWT with ``kid``); publishes the public keys."""

    async def issue(self, claims: TokenClaims) -> str: ...

    async def verify(self, token: str) -> TokenClaims:
        """Signature, algorithm, ``kid``, ``iss`` and ``aud``; times are checked by the caller.

        Raises:
            InvalidToken: anything wrong with the token.
        """
        ...

    async def jwks(self) -> Mapping[str, Any]: ...

    async def ensure_key(self) -> str:
        """Make sure a signing key exists (creating the first one); call outside write transactions."""
        ...

    async def rotate(self) -> str:
        """Make a new signing key the active one; return its ``kid``."""
        ...


class TotpAuthenticator(Protocol):
    def new_secret(self) -> str: ...

    def provisioning_uri(self, secret: str, account: str) -> str: ...

    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step ``code`` belongs to (within one step of ``now``), or ``None``."""
        ...


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...

    async def get(self, tenant_id: TenantId) -> Tenant | None: ...

    async def by_name(self, name: str) -> Tenant | None: ...

    async def all(self) -> list[Tenant]: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...

    async def get(self, user_id: UserId) -> User | None: ...

    async def by_username(self, username: str) -> User | None: ...

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None: ...

    async def set_disabled(self, user_id: UserId, disabled: bool) -> None: ...

    async def set_totp(
        self, user_id: UserId, *, secret: bytes | None, pending: bytes | None, last_step: int
    ) -> None: ...

    async def advance_totp_step(self, user_id: UserId, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) was used already (replay)."""
        ...

    async def replace_backup_codes(self, user_id: UserId, code_hashes: Sequence[str]) -> None: ...

    async def use_backup_code(self, user_id: UserId, code_hash: str, now: datetime) -> bool:
        """Mark one unused code as used; False when no such unused code exists."""
        ...


class MembershipRepository(Protocol):
    async def add(self, membership: Membership) -> None: ...

    async def get(self, tenant_id: TenantId, user_id: UserId) -> Membership | None: ...

    async def for_user(self, user_id: UserId) -> list[Membership]:
        """The user's own memberships across tenants (used at sign-in, before a tenant is chosen)."""
        ...

    async def for_tenant(self, tenant_id: TenantId) -> list[Membership]: ...

    async def set_role(self, tenant_id: TenantId, user_id: UserId, role: Role) -> None: ...

    async def remove(self, tenant_id: TenantId, user_id: UserId) -> None: ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """Look a key up by its public prefix (before its tenant is known)."""
        ...

    async def get(self, tenant_id: TenantId, key_id: str) -> ApiKey | None: ...

    async def for_tenant(self, tenant_id: TenantId) -> list[ApiKey]: ...

    async def revoke(self, tenant_id: TenantId, key_id: str, now: datetime) -> bool: ...

    async def revoke_created_by(self, tenant_id: TenantId, created_by: str, now: datetime) -> int:
        """Revoke every live key of the tenant created by ``created_by`` (``user:<id>``); how many."""
        ...

    async def touch(self, tenant_id: TenantId, key_id: str, now: datetime) -> None: ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        """Look a token up by its hash (before its tenant is known)."""
        ...

    async def mark_rotated(self, token_id: str, now: datetime) -> bool:
        """Atomically mark a live token rotated; False when it was rotated or revoked already."""
        ...

    async def revoke_family(self, tenant_id: TenantId, family_id: str, now: datetime) -> int: ...

    async def revoke_for_user(self, tenant_id: TenantId, user_id: UserId, now: datetime) -> int:
        """Revoke every live refresh token of ``user_id`` in the tenant (all sessions); how many."""
        ...


class RevokedTokenRepository(Protocol):
    async def add(
        self, jti: str, tenant_id: TenantId, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Deny ``jti`` until ``expires_at``; with ``now``, also forget the tenant's expired entries."""
        ...

    async def is_revoked(self, jti: str) -> bool: ...


class LoginThrottleRepository(Protocol):
    async def get(self, key: str) -> LockoutState: ...

    async def record_failure(
        self, key: str, now: datetime, policy: LockoutPolicy, free: int | None
    ) -> LockoutState:
        """Count one failure atomically (row lock / single writer) and return the new state.

        ``free``: failures allowed before the key must wait (``None``: count only, never wait).
        """
        ...

    async def clear(self, key: str) -> None: ...


class SigningKeyRepository(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def published(self, since: datetime) -> list[SigningKey]:
        """Keys not retired, or retired after ``since``, newest first."""
        ...

    async def retire_all_except(self, kid: str, now: datetime) -> None: ...


class IdentityUnitOfWork(UnitOfWork, Protocol):
    """One transaction over every identity repository.

    Opened for one tenant (or none, for sign-in look-ups); :meth:`enter_tenant` scopes the rest of an
    unscoped transaction to the tenant found by a look-up.
    """

    tenant_id: TenantId | None

    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def memberships(self) -> MembershipRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def revoked_tokens(self) -> RevokedTokenRepository: ...

    @property
    def throttle(self) -> LoginThrottleRepository: ...

    @property
    def signing_keys(self) -> SigningKeyRepository: ...

    async def enter_tenant(self, tenant_id: TenantId) -> None: ...


IdentityUnitOfWorkFactory = Callable[[TenantId | None], IdentityUnitOfWork]
