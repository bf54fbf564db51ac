"""Identity and access: tenants, roles, scopes, principals and the claims of an access token.

Only the standard library is imported here. A *principal* is whoever calls the API: a user signed in to
one tenant, or an API key of a tenant. What it may do is a set of *scopes* (``service:action``); a
user's scopes come from the role it holds in the tenant, an API key's scopes are an explicit subset of
its creator's scopes, chosen when the key is created.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from neo_service_layer.enclave.wire.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

TenantId: TypeAlias = str
UserId: TypeAlias = str
ApiKeyId: TypeAlias = str
Scope: TypeAlias = str

#: the tenant a superadmin signs in to; platform events (unknown-user sign-in failures) are audited here
PLATFORM_TENANT: TenantId = "_platform"

_TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{2,127}$")


class Role(StrEnum):
    """Role of a user inside one tenant."""

    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    VIEWER = "viewer"


SUPERADMIN = "superadmin"
"""Platform role of the operator of the installation (not a tenant role)."""


class Scopes:
    """Every scope the platform knows. Services declare the one each route needs."""

    KEYS_SIGN = "keys:sign"
    KEYS_ADMIN = "keys:admin"
    KEYS_READ = "keys:read"
    RANDOMNESS_REQUEST = "randomness:request"
    ORACLE_REQUEST = "oracle:request"
    SECRETS_WRITE = "secrets:write"
    SECRETS_READ = "secrets:read"
    ATTESTATION_READ = "attestation:read"
    AUDIT_READ = "audit:read"
    TENANTS_ADMIN = "tenants:admin"
    MEMBERS_READ = "members:read"
    APIKEYS_ADMIN = "apikeys:admin"
    #: self-service of the signed-in user (MFA enrolment); never granted to API keys
    AUTH_MFA = "auth:mfa"
    #: operator of the installation: create tenants, act on any tenant's membership
    PLATFORM_ADMIN = "platform:admin"


#: scopes a tenant role or an API key can hold
TENANT_SCOPES: frozenset[Scope] = frozenset(
    {
        Scopes.KEYS_SIGN,
        Scopes.KEYS_ADMIN,
        Scopes.KEYS_READ,
        Scopes.RANDOMNESS_REQUEST,
        Scopes.ORACLE_REQUEST,
        Scopes.SECRETS_WRITE,
        Scopes.SECRETS_READ,
        Scopes.ATTESTATION_READ,
        Scopes.AUDIT_READ,
        Scopes.TENANTS_ADMIN,
        Scopes.MEMBERS_READ,
        Scopes.APIKEYS_ADMIN,
    }
)
ALL_SCOPES: frozenset[Scope] = TENANT_SCOPES | {Scopes.AUTH_MFA, Scopes.PLATFORM_ADMIN}

ROLE_SCOPES: Mapping[Role, frozenset[Scope]] = {
    Role.OWNER: TENANT_SCOPES,
    Role.ADMIN: TENANT_SCOPES,
    Role.DEVELOPER: frozenset(
        {
            Scopes.KEYS_SIGN,
            Scopes.KEYS_READ,
            Scopes.RANDOMNESS_REQUEST,
            Scopes.ORACLE_REQUEST,
            Scopes.SECRETS_READ,
            Scopes.SECRETS_WRITE,
            Scopes.ATTESTATION_READ,
            Scopes.MEMBERS_READ,
            Scopes.APIKEYS_ADMIN,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Scopes.KEYS_ADMIN,
            Scopes.KEYS_READ,
            Scopes.KEYS_SIGN,
            Scopes.RANDOMNESS_REQUEST,
            Scopes.ORACLE_REQUEST,
            Scopes.ATTESTATION_READ,
            Scopes.MEMBERS_READ,
        }
    ),
    Role.AUDITOR: frozenset({Scopes.AUDIT_READ, Scopes.KEYS_READ, Scopes.MEMBERS_READ}),
    Role.VIEWER: frozenset({Scopes.KEYS_READ, Scopes.MEMBERS_READ}),
}

#: roles that must have MFA before they get a full token (policy; see ``needs_mfa_enrolment``)
MFA_REQUIRED_ROLES: frozenset[str] = frozenset({SUPERADMIN, Role.OWNER.value, Role.ADMIN.value})


def scopes_for_roles(roles: Iterable[str]) -> frozenset[Scope]:
    """Union of the scopes of ``roles``; a superadmin holds every scope."""
    granted: set[Scope] = set()
    for name in roles:
        if name == SUPERADMIN:
            return ALL_SCOPES
        granted |= ROLE_SCOPES[Role(name)]
    return frozenset(granted)


def user_token_scopes(roles: Iterable[str]) -> frozenset[Scope]:
    """Scopes of a user's access token: the roles' scopes plus MFA self-service."""
    return scopes_for_roles(roles) | {Scopes.AUTH_MFA}


def needs_mfa_enrolment(roles: Iterable[str], mfa_enabled: bool, required: Iterable[str]) -> bool:
    return not mfa_enabled and bool(set(roles) & set(required))


def can_assign_role(actor_roles: Iterable[str], old: Role | None, new: Role | None) -> bool:
    """Only owners (or a superadmin) grant or take away the owner role; admins manage the others."""
    actor = set(actor_roles)
    if SUPERADMIN in actor or Role.OWNER.value in actor:
        return True
    if Role.ADMIN.value in actor:
        return Role.OWNER not in (old, new)
    return False


def api_key_scopes(requested: Iterable[str], creator_scopes: frozenset[Scope]) -> frozenset[Scope]:
    """The scopes of a new API key: non-empty, known, tenant-level and held by its creator.

    Raises:
        InvalidInput: empty or unknown scopes.
        ScopeNotHeld: a scope the creator does not hold itself.
    """
    wanted = frozenset(requested)
    if not wanted:
        raise InvalidInput("an API key needs at least one scope")
    unknown = wanted - TENANT_SCOPES
    if unknown:
        raise InvalidInput(f"not API key scopes: {', '.join(sorted(unknown))}")
    missing = wanted - creator_scopes
    if missing:
        raise ScopeNotHeld(f"you cannot grant scopes you do not hold: {', '.join(sorted(missing))}")
    return wanted


def validate_tenant_name(name: str) -> str:
    if not _TENANT_NAME.match(name):
        raise InvalidInput("tenant name: 2-63 characters, lowercase letters, digits and '-'")
    return name


def validate_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InvalidInput("username: 3-128 characters, letters, digits and . _ @ + -")
    return username


class PrincipalKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request.

    Attributes:
        tenant_id: the one tenant this principal acts in (``PLATFORM_TENANT`` for a superadmin).
        subject: user id, or API key id.
        kind: user or API key.
        roles: tenant roles of a user (``superadmin`` for the platform operator); empty for API keys.
        scopes: what the principal may do.
        key_id: the API key id when ``kind`` is API key.
        token_id: the access token's ``jti`` (users), for logout.
        session_id: the refresh-token family of the session (users).
        plan: the tenant's plan, for per-plan rate limits.
    """

    tenant_id: TenantId
    subject: str
    kind: PrincipalKind
    roles: frozenset[str] = frozenset()
    scopes: frozenset[Scope] = frozenset()
    key_id: ApiKeyId | None = None
    token_id: str | None = None
    session_id: str | None = None
    plan: str = "default"

    @property
    def is_superadmin(self) -> bool:
        return self.kind is PrincipalKind.USER and SUPERADMIN in self.roles

    @property
    def actor(self) -> str:
        """How the audit log names this principal (``user:<id>`` or ``api_key:<id>``)."""
        return f"{self.kind.value}:{self.subject}"

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scopes

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise MissingScope(f"this operation needs the scope {scope!r}")

    def require_tenant(self, tenant_id: TenantId) -> None:
        """Refuse acting on another tenant (a superadmin may act on any)."""
        if tenant_id != self.tenant_id and not self.is_superadmin:
            raise TenantMismatch("the tenant in the path is not the tenant you are signed in to")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Claims of an access token (JWT, ES256)."""

    sub: str
    tenant: TenantId
    roles: tuple[str, ...]
    scopes: tuple[Scope, ...]
    jti: str
    iat: int
    exp: int
    iss: str
    aud: str
    sid: str | None = None
    plan: str = "default"

    def to_dict(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "sub": self.sub,
            "tenant": self.tenant,
            "roles": list(self.roles),
            "scopes": list(self.scopes),
            "jti": self.jti,
            "iat": self.iat,
            "exp": self.exp,
            "iss": self.iss,
            "aud": self.aud,
            "plan": self.plan,
        }
        if self.sid is not None:
            claims["sid"] = self.sid
        return claims

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenClaims:
        """Parse verified claims; any missing or mistyped claim makes the token invalid."""
        try:
            roles = data["roles"]
            scopes = data["scopes"]
            if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
                raise TypeError("roles")
            if not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
                raise TypeError("scopes")
            text = {name: data[name] for name in ("sub", "tenant", "jti", "iss", "aud")}
            if not all(isinstance(v, str) and v for v in text.values()):
                raise TypeError("string claims")
            iat, exp = data["iat"], data["exp"]
            if not (type(iat) is int and type(exp) is int):
                raise TypeError("times")
            sid = data.get("sid")
            plan = data.get("plan", "default")
            if sid is not None and not isinstance(sid, str):
                raise TypeError("sid")
            if not isinstance(plan, str):
                raise TypeError("plan")
        except (KeyError, TypeError) as exc:
            raise InvalidToken("malformed access token claims") from exc
        return cls(
            sub=text["sub"],
            tenant=text["tenant"],
            roles=tuple(roles),
            scopes=tuple(scopes),
            jti=text["jti"],
            iat=iat,
            exp=exp,
            iss=text["iss"],
            aud=text["aud"],
            sid=sid,
            plan=plan,
        )

    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.tenant,
            subject=self.sub,
            kind=PrincipalKind.USER,
            roles=frozenset(self.roles),
            scopes=frozenset(self.scopes),
            token_id=self.jti,
            session_id=self.sid,
            plan=self.plan,
        )


def check_token_times(claims: TokenClaims, now: datetime, leeway_seconds: int) -> None:
    """Raise ``TokenExpired`` when ``now`` is past ``exp`` (plus leeway) or before ``iat`` (minus it)."""
    moment = int(now.timestamp())
    if moment > claims.exp + leeway_seconds:
        raise TokenExpired("the access token has expired")
    if moment + leeway_seconds < claims.iat:
        raise InvalidToken("the access token is not valid yet")


# Entities -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tenant:
    id: TenantId
    name: str
    plan: str
    created_at: datetime
    active: bool = True


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    username: str
    password_hash: str
    created_at: datetime
    is_superadmin: bool = False
    disabled: bool = False
    totp_secret: bytes | None = None  # encrypted (SecretBox), never the clear secret
    totp_pending: bytes | None = None  # encrypted, during enrolment
    totp_last_step: int = 0

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret is not None


@dataclass(frozen=True, slots=True)
class Membership:
    tenant_id: TenantId
    user_id: UserId
    role: Role
    created_at: datetime
    username: str = ""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: ApiKeyId
    tenant_id: TenantId
    prefix: str
    secret_hash: str
    name: str
    scopes: frozenset[Scope]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    plan: str = field(default="default", compare=False)

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    id: str
    family_id: str
    tenant_id: TenantId
    user_id: UserId
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An ES256 signing key; ``private_pem_sealed`` is AES-256-GCM ciphertext, never the clear key."""

    kid: str
    public_jwk: Mapping[str, str]
    private_pem_sealed: bytes
    created_at: datetime
    retired_at: datetime | None = None


# Errors ------------------------------------------------------------------------------------------


class InvalidCredentials(Unauthenticated):
    code = "invalid-credentials"


class AccountLocked(Unauthenticated):
    code = "account-locked"


class MfaRequired(Unauthenticated):
    code = "mfa-required"


class InvalidMfaCode(Unauthenticated):
    code = "invalid-mfa-code"


class InvalidToken(Unauthenticated):
    code = "invalid-token"


class TokenExpired(InvalidToken):
    code = "token-expired"


class TokenRevoked(InvalidToken):
    code = "token-revoked"


class RefreshReuseDetected(InvalidToken):
    code = "refresh-token-reuse"


class InvalidApiKey(Unauthenticated):
    code = "invalid-api-key"


class MissingScope(PermissionDenied):
    code = "missing-scope"


class ScopeNotHeld(PermissionDenied):
    code = "scope-not-held"


class TenantMismatch(PermissionDenied):
    code = "wrong-tenant"


class NotAMember(PermissionDenied):
    code = "not-a-member"


class RoleChangeDenied(PermissionDenied):
    code = "role-change-denied"


class TenantRequired(InvalidInput):
    code = "tenant-required"


class WeakPassword(InvalidInput):
    code = "weak-password"


class TenantNotFound(NotFound):
    code = "tenant-not-found"


class MemberNotFound(NotFound):
    code = "member-not-found"


class ApiKeyNotFound(NotFound):
    code = "api-key-not-found"


class AlreadyExists(Conflict):
    code = "already-exists"


class LastOwner(Conflict):
    code = "last-owner"


class MfaAlreadyEnabled(Conflict):
    code = "mfa-already-enabled"


class MfaNotStarted(Conflict):
    code = "mfa-enrolment-not-started"
