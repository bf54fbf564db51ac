"""Access: the scopes, which roles hold them, and the principal that holds them.

Only the standard library is imported here. A *principal* is whoever calls the API: a user signed in to
one tenant, or an API key of a tenant. What it may do is a set of *scopes* (``service:action``); a
user's scopes come from the role it holds in the tenant, an API key's scopes are an explicit subset of
its creator's scopes, chosen when the key is created.

The kernel knows only its own scopes (:class:`Scopes`, :data:`KERNEL_GRANTS`). Each service declares
its scopes in its own package and lists them, with the roles that hold them, as :class:`ScopeGrant` in
its descriptor; the composition root builds one :class:`ScopeCatalogue` of the kernel's and the
registered services' scopes and hands it to the identity use cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.kernel.identity.rules.accounts import SUPERADMIN, Role, TenantId
from neo_service_layer.kernel.identity.rules.errors import MissingScope, TenantMismatch

Scope: TypeAlias = str
ApiKeyId: TypeAlias = str


class Scopes:
    """The kernel's own scopes. A service declares its scopes in its own package (see :class:`ScopeGrant`)."""

    AUDIT_READ = "audit:read"
    TENANTS_ADMIN = "tenants:admin"
    MEMBERS_READ = "members:read"
    APIKEYS_ADMIN = "apikeys:admin"
    #: self-service of the signed-in user (MFA enrolment); never granted to API keys
    AUTH_MFA = "auth:mfa"
    #: operator of the installation: create tenants, act on any tenant's membership
    PLATFORM_ADMIN = "platform:admin"


#: ``service:action``, lower case
SCOPE_NAME = re.compile(r"[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*")

#: tenant roles that hold every tenant scope
FULL_ROLES: frozenset[Role] = frozenset({Role.OWNER, Role.ADMIN})

#: scopes no tenant role and no API key holds: a user's MFA self-service (every user token has it) and
#: the platform operator's (superadmin only)
PLATFORM_SCOPES: frozenset[Scope] = frozenset({Scopes.AUTH_MFA, Scopes.PLATFORM_ADMIN})


@dataclass(frozen=True, slots=True)
class ScopeGrant:
    """A tenant scope (one a tenant role or an API key can hold) and who holds it.

    Attributes:
        scope: ``service:action``.
        roles: the tenant roles that hold it besides owner and admin, who hold every tenant scope.
    """

    scope: Scope
    roles: tuple[Role, ...] = ()

    def __post_init__(self) -> None:
        if not SCOPE_NAME.fullmatch(self.scope):
            raise ValueError(f"a scope is `service:action` in lower case, not {self.scope!r}")
        for role in self.roles:
            if not isinstance(role, Role):
                raise ValueError(f"scope {self.scope!r}: {role!r} is not a tenant role")


#: the kernel's tenant scopes and the roles that hold them
KERNEL_GRANTS: tuple[ScopeGrant, ...] = (
    ScopeGrant(Scopes.AUDIT_READ, (Role.AUDITOR,)),
    ScopeGrant(Scopes.TENANTS_ADMIN),
    ScopeGrant(Scopes.MEMBERS_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
    ScopeGrant(Scopes.APIKEYS_ADMIN, (Role.DEVELOPER,)),
)


@dataclass(frozen=True, slots=True)
class ScopeCatalogue:
    """Every scope of this installation, the kernel's and the services', and which role holds which.

    Built once by the composition root from the services' grants; the kernel's own grants
    (:data:`KERNEL_GRANTS`) and :data:`PLATFORM_SCOPES` are always in it. A scope declared twice (by
    two services, or by a service and the kernel) is refused with ``ValueError``.

    Attributes:
        service_grants: the registered services' grants, as given.
        tenant_scopes: scopes a tenant role or an API key can hold.
        all_scopes: the tenant scopes and the platform scopes (a superadmin holds them all).
        role_scopes: the scopes of each tenant role.
    """

    service_grants: tuple[ScopeGrant, ...] = ()
    tenant_scopes: frozenset[Scope] = field(init=False, compare=False)
    all_scopes: frozenset[Scope] = field(init=False, compare=False)
    role_scopes: Mapping[Role, frozenset[Scope]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        grants = (*KERNEL_GRANTS, *self.service_grants)
        seen: set[Scope] = set(PLATFORM_SCOPES)
        for grant in grants:
            if grant.scope in seen:
                raise ValueError(f"the scope {grant.scope!r} is declared twice")
            seen.add(grant.scope)
        tenant = frozenset(grant.scope for grant in grants)
        roles = {
            role: tenant if role in FULL_ROLES else frozenset(g.scope for g in grants if role in g.roles)
            for role in Role
        }
        object.__setattr__(self, "tenant_scopes", tenant)
        object.__setattr__(self, "all_scopes", tenant | PLATFORM_SCOPES)
        object.__setattr__(self, "role_scopes", MappingProxyType(roles))

    def scopes_for_roles(self, roles: Iterable[str]) -> frozenset[Scope]:
        """Union of the scopes of ``roles``; a superadmin holds every scope."""
        granted: set[Scope] = set()
        for name in roles:
            if name == SUPERADMIN:
                return self.all_scopes
            granted |= self.role_scopes[Role(name)]
        return frozenset(granted)

    def user_token_scopes(self, roles: Iterable[str]) -> frozenset[Scope]:
        """Scopes of a user's access token: the roles' scopes plus MFA self-service."""
        return self.scopes_for_roles(roles) | {Scopes.AUTH_MFA}


#: roles that must have MFA before they get a full token (policy; see ``needs_mfa_enrolment``)
MFA_REQUIRED_ROLES: frozenset[str] = frozenset({SUPERADMIN, Role.OWNER.value, Role.ADMIN.value})


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
        credential: the API key the caller presented, with its claims (API keys only), passed to the
            enclave so it can check the tenant's own credential (enclave-checked credentials).
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
    credential: ApiKeyCredential | None = field(default=None, repr=False, compare=False)

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
