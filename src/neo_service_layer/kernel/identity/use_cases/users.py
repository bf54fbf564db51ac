"""Tenants, users and memberships: bootstrap a superadmin, create tenants, manage members' roles.

Removing a member ends their access to that tenant: their refresh tokens there and the API keys they
created there are revoked (their access tokens stop at the next request: bearer checks membership).
Disabling a user does the same in every tenant, and in ``_platform`` for a superadmin.
"""

from __future__ import annotations

import uuid

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import (
    IdentityUnitOfWork,
    IdentityUnitOfWorkFactory,
    PasswordHasher,
)
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.accounts import (
    PLATFORM_TENANT,
    Membership,
    Role,
    Tenant,
    User,
    can_assign_role,
    validate_tenant_name,
    validate_username,
)
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    AlreadyExists,
    LastOwner,
    MemberNotFound,
    RoleChangeDenied,
    TenantNotFound,
    UserNotFound,
)
from neo_service_layer.kernel.identity.rules.passwords import check_password, normalise_password
from neo_service_layer.kernel.identity.use_cases.principal_cache import PrincipalCaches, user_tag


class IdentityService:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        hasher: PasswordHasher,
        audit: AuditLog,
        clock: Clock,
        password_min_length: int = 12,
        caches: PrincipalCaches | None = None,
    ) -> None:
        self._caches = caches
        self._uow = uow
        self._hasher = hasher
        self._audit = audit
        self._clock = clock
        self._min_length = password_min_length

    async def create_superadmin(self, username: str, password: str) -> User:
        """Bootstrap an installation (``nsl admin create-superadmin``); there is no default account."""
        user = await self._new_user(username, password, superadmin=True)
        await self._record(
            PLATFORM_TENANT,
            "cli",
            Actions.USER_CREATE,
            f"user:{user.id}",
            RequestMeta(),
            {"superadmin": "true", "username": username},
        )
        return user

    async def _new_user(self, username: str, password: str, *, superadmin: bool = False) -> User:
        validate_username(username)
        check_password(password, username=username, min_length=self._min_length)
        user = User(
            id=f"usr_{uuid.uuid4().hex}",
            username=username,
            password_hash=await self._hasher.hash(normalise_password(password)),
            created_at=self._clock.now(),
            is_superadmin=superadmin,
        )
        async with self._uow(None) as uow:
            if await uow.users.by_username(username) is not None:
                raise AlreadyExists(f"a user named {username!r} exists already")
            await uow.users.add(user)
            await uow.commit()
        return user

    async def create_tenant(
        self, principal: Principal, name: str, *, plan: str = "default", meta: RequestMeta = RequestMeta()
    ) -> Tenant:
        principal.require(Scopes.PLATFORM_ADMIN)
        validate_tenant_name(name)
        tenant = Tenant(id=f"ten_{uuid.uuid4().hex[:20]}", name=name, plan=plan, created_at=self._clock.now())
        async with self._uow(None) as uow:
            if await uow.tenants.by_name(name) is not None:
                raise AlreadyExists(f"a tenant named {name!r} exists already")
            await uow.tenants.add(tenant)
            await uow.commit()
        await self._record(
            tenant.id,
            principal.actor,
            Actions.TENANT_CREATE,
            f"tenant:{tenant.id}",
            meta,
            {"name": name, "plan": plan},
        )
        await self._record(
            PLATFORM_TENANT,
            principal.actor,
            Actions.TENANT_CREATE,
            f"tenant:{tenant.id}",
            meta,
            {"name": name, "plan": plan},
        )
        return tenant

    async def list_tenants(self, principal: Principal) -> list[Tenant]:
        principal.require(Scopes.PLATFORM_ADMIN)
        async with self._uow(None) as uow:
            return await uow.tenants.all()

    async def get_tenant(self, principal: Principal, tenant_id: str) -> Tenant:
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            return await self._tenant(uow, tenant_id)

    async def add_member(
        self,
        principal: Principal,
        tenant_id: str,
        *,
        username: str,
        role: Role,
        password: str | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> Membership:
        """Add a user (created when ``password`` is given and the name is new) with ``role``."""
        principal.require(Scopes.TENANTS_ADMIN)
        principal.require_tenant(tenant_id)
        if not can_assign_role(principal.roles, None, role):
            raise RoleChangeDenied("only an owner can make someone an owner")
        async with self._uow(None) as uow:
            user = await uow.users.by_username(username)
        if user is None:
            if password is None:
                raise InvalidInput("no such user; give a `password` to create the account")
            user = await self._new_user(username, password)
        elif password is not None:
            raise AlreadyExists("that user exists already; add it without a password")
        membership = Membership(tenant_id, user.id, role, self._clock.now(), username=user.username)
        async with self._uow(tenant_id) as uow:
            await self._tenant(uow, tenant_id)
            if await uow.memberships.get(tenant_id, user.id) is not None:
                raise AlreadyExists("that user is a member already; change its role instead")
            await uow.memberships.add(membership)
            await uow.commit()
        await self._record(
            tenant_id,
            principal.actor,
            Actions.MEMBER_ADD,
            f"user:{user.id}",
            meta,
            {"role": role.value, "username": user.username},
        )
        return membership

    async def list_members(self, principal: Principal, tenant_id: str) -> list[Membership]:
        principal.require(Scopes.MEMBERS_READ)
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            await self._tenant(uow, tenant_id)
            return await uow.memberships.for_tenant(tenant_id)

    async def change_role(
        self,
        principal: Principal,
        tenant_id: str,
        user_id: str,
        role: Role,
        *,
        meta: RequestMeta = RequestMeta(),
    ) -> Membership:
        principal.require(Scopes.TENANTS_ADMIN)
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            current = await self._member(uow, tenant_id, user_id)
            if not can_assign_role(principal.roles, current.role, role):
                raise RoleChangeDenied("only an owner can grant or take away the owner role")
            if current.role is Role.OWNER and role is not Role.OWNER:
                await self._keep_an_owner(uow, tenant_id)
            await uow.memberships.set_role(tenant_id, user_id, role)
            await uow.commit()
        await self._forget_user(user_id)
        await self._record(
            tenant_id,
            principal.actor,
            Actions.MEMBER_ROLE_CHANGE,
            f"user:{user_id}",
            meta,
            {"from": current.role.value, "to": role.value},
        )
        return Membership(tenant_id, user_id, role, current.created_at, username=current.username)

    async def remove_member(
        self, principal: Principal, tenant_id: str, user_id: str, *, meta: RequestMeta = RequestMeta()
    ) -> None:
        principal.require(Scopes.TENANTS_ADMIN)
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            current = await self._member(uow, tenant_id, user_id)
            if not can_assign_role(principal.roles, current.role, None):
                raise RoleChangeDenied("only an owner can remove an owner")
            if current.role is Role.OWNER:
                await self._keep_an_owner(uow, tenant_id)
            await uow.memberships.remove(tenant_id, user_id)
            sessions, keys = await self._end_access(uow, tenant_id, user_id)
            await uow.commit()
        await self._forget_user(user_id)
        await self._record(
            tenant_id,
            principal.actor,
            Actions.MEMBER_REMOVE,
            f"user:{user_id}",
            meta,
            {
                "role": current.role.value,
                "revoked_refresh_tokens": str(sessions),
                "revoked_api_keys": str(keys),
            },
        )

    async def find_user(self, principal: Principal, username: str) -> User:
        """A user by name (superadmin), e.g. for ``nsl admin disable-user``."""
        principal.require(Scopes.PLATFORM_ADMIN)
        async with self._uow(None) as uow:
            user = await uow.users.by_username(username)
        if user is None:
            raise UserNotFound("no such user")
        return user

    async def disable_user(
        self, principal: Principal, user_id: str, *, meta: RequestMeta = RequestMeta()
    ) -> None:
        """Disable an account (superadmin): no more sign-ins, and every session and API key it has ends.

        Its access tokens stop at the next request (bearer checks the account), its refresh tokens and
        the API keys it created are revoked in every tenant it belongs to (and ``_platform``).
        """
        principal.require(Scopes.PLATFORM_ADMIN)
        if principal.subject == user_id:
            raise InvalidInput("you cannot disable your own account")
        async with self._uow(None) as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise UserNotFound("no such user")
            await uow.users.set_disabled(user_id, True)
            tenant_ids = [m.tenant_id for m in await uow.memberships.for_user(user_id)]
            await uow.commit()
        await self._forget_user(user_id)  # its access tokens end here
        if user.is_superadmin:
            tenant_ids.append(PLATFORM_TENANT)
        sessions = keys = 0
        for tenant_id in tenant_ids:
            async with self._uow(tenant_id) as uow:
                ended = await self._end_access(uow, tenant_id, user_id)
                await uow.commit()
            sessions, keys = sessions + ended[0], keys + ended[1]
            await self._forget_user(user_id)  # and the API keys it created in this tenant
            if tenant_id != PLATFORM_TENANT:
                await self._record(
                    tenant_id,
                    principal.actor,
                    Actions.USER_DISABLE,
                    f"user:{user_id}",
                    meta,
                    {"revoked_refresh_tokens": str(ended[0]), "revoked_api_keys": str(ended[1])},
                )
        await self._record(
            PLATFORM_TENANT,
            principal.actor,
            Actions.USER_DISABLE,
            f"user:{user_id}",
            meta,
            {
                "username": user.username,
                "revoked_refresh_tokens": str(sessions),
                "revoked_api_keys": str(keys),
            },
        )

    async def _end_access(self, uow: IdentityUnitOfWork, tenant_id: str, user_id: str) -> tuple[int, int]:
        """Revoke the user's refresh tokens in the tenant and the API keys they created there."""
        now = self._clock.now()
        sessions = await uow.refresh_tokens.revoke_for_user(tenant_id, user_id, now)
        keys = await uow.api_keys.revoke_created_by(tenant_id, f"user:{user_id}", now)
        return sessions, keys

    async def _forget_user(self, user_id: str) -> None:
        """Drop the cached principals of the user's tokens and of the API keys it created."""
        if self._caches is not None:
            await self._caches.forget(user_tag(user_id))

    async def _tenant(self, uow: IdentityUnitOfWork, tenant_id: str) -> Tenant:
        tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id!r}")
        return tenant

    async def _member(self, uow: IdentityUnitOfWork, tenant_id: str, user_id: str) -> Membership:
        current = await uow.memberships.get(tenant_id, user_id)
        if current is None:
            raise MemberNotFound("no such member in this tenant")
        return current

    async def _keep_an_owner(self, uow: IdentityUnitOfWork, tenant_id: str) -> None:
        owners = [m for m in await uow.memberships.for_tenant(tenant_id) if m.role is Role.OWNER]
        if len(owners) <= 1:
            raise LastOwner("a tenant keeps at least one owner")

    async def _record(
        self, tenant_id: str, actor: str, action: str, target: str, meta: RequestMeta, details: dict[str, str]
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                outcome=Outcome.SUCCESS,
                target=target,
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )
