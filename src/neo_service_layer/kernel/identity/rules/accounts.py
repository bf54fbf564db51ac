"""Tenants, users and their memberships: the entities, the tenant roles and who may change a role.

Only the standard library is imported here. A user belongs to tenants through memberships, one role per
tenant; the operator of the installation is a *superadmin*, a platform role that is not a tenant role
and signs in to the ``PLATFORM_TENANT``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from neo_service_layer.enclave.wire.errors import InvalidInput

TenantId: TypeAlias = str
UserId: TypeAlias = str

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


def can_assign_role(actor_roles: Iterable[str], old: Role | None, new: Role | None) -> bool:
    """Only owners (or a superadmin) grant or take away the owner role; admins manage the others."""
    actor = set(actor_roles)
    if SUPERADMIN in actor or Role.OWNER.value in actor:
        return True
    if Role.ADMIN.value in actor:
        return Role.OWNER not in (old, new)
    return False


def validate_tenant_name(name: str) -> str:
    if not _TENANT_NAME.match(name):
        raise InvalidInput("tenant name: 2-63 characters, lowercase letters, digits and '-'")
    return name


def validate_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InvalidInput("username: 3-128 characters, letters, digits and . _ @ + -")
    return username


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
