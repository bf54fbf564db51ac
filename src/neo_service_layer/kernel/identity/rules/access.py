"""Access: the scopes, which scopes each role grants, and the principal that holds them.

Only the standard library is imported here. A *principal* is whoever calls the API: a user signed in to
one tenant, or an API key of a tenant. What it may do is a set of *scopes* (``service:action``); a
user's scopes come from the role it holds in the tenant, an API key's scopes are an explicit subset of
its creator's scopes, chosen when the key is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from neo_service_layer.kernel.identity.rules.accounts import SUPERADMIN, Role, TenantId
from neo_service_layer.kernel.identity.rules.errors import MissingScope, TenantMismatch

Scope: TypeAlias = str
ApiKeyId: TypeAlias = str


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
