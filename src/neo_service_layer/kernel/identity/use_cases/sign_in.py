"""Sign-in: user name and password, then the second factor when enrolled, then tokens for one tenant.

Failures count against the account name and the client address (lockout); an unknown user costs the
same password-hash work as a wrong password, so the two cannot be told apart. Every attempt is audited:
a success in the tenant signed in to, a failure in the tenant named (when it exists) or the platform's.
"""

from __future__ import annotations

import secrets
from typing import NoReturn

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import (
    IdentityUnitOfWork,
    IdentityUnitOfWorkFactory,
    PasswordHasher,
    SecretBox,
    TokenCodec,
    TotpAuthenticator,
)
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN, Tenant, User
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    MfaRequired,
    NotAMember,
    TenantRequired,
)
from neo_service_layer.kernel.identity.rules.passwords import lockout_keys, normalise_password
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.mfa import normalise_backup_code, totp_label
from neo_service_layer.kernel.identity.use_cases.sessions import IssuedTokens, Sessions


class SignIn:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        hasher: PasswordHasher,
        box: SecretBox,
        codec: TokenCodec,
        totp: TotpAuthenticator,
        audit: AuditLog,
        clock: Clock,
        policy: AuthPolicy,
        sessions: Sessions,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._box = box
        self._codec = codec
        self._totp = totp
        self._audit = audit
        self._clock = clock
        self.policy = policy
        self._sessions = sessions
        self._unknown_user_hash: str | None = None

    async def sign_in(
        self,
        username: str,
        password: str,
        *,
        tenant: str | None = None,
        totp_code: str | None = None,
        backup_code: str | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> IssuedTokens:
        """Password (+ second factor when enrolled) -> tokens for one tenant.

        Raises:
            AccountLocked: too many recent failures for this account name or client address.
            InvalidCredentials: unknown user or wrong password (indistinguishable, same work done).
            MfaRequired / InvalidMfaCode: TOTP enrolled and the code is missing / wrong.
            NotAMember / TenantRequired: no such membership / several tenants and none named.
        """
        now = self._clock.now()
        keys = lockout_keys(username, meta.client_ip)
        password = normalise_password(password)
        async with self._uow(None) as uow:
            states = [await uow.throttle.get(key) for key in keys]
            user = await uow.users.by_username(username)
            audit_tenant = await self._audit_tenant_for(uow, tenant)
        if any(state.is_locked(now) for state in states):
            await self._login_audit(audit_tenant, username, user, Outcome.DENIED, meta, "locked")
            raise AccountLocked("too many failed sign-ins; try again later")
        if user is None:
            await self._hasher.verify(await self._unknown_user(), password)
            await self._fail(keys, audit_tenant, username, None, meta, "bad-credentials")
        elif not await self._hasher.verify(user.password_hash, password) or user.disabled:
            await self._fail(keys, audit_tenant, username, user, meta, "bad-credentials")
        assert user is not None
        if user.mfa_enabled:
            await self._second_factor(user, totp_code, backup_code, keys, audit_tenant, meta)
        await self._codec.ensure_key()  # may write the first key: not inside the transaction below
        async with self._uow(None) as uow:
            await uow.throttle.clear(keys[0])
            if self._hasher.needs_rehash(user.password_hash):
                await uow.users.set_password_hash(user.id, await self._hasher.hash(password))
            chosen, roles = await self._resolve_tenant(uow, user, tenant)
            issued = await self._sessions.issue(uow, user, chosen, roles, family_id=None)
            await uow.commit()
        details = {"mfa_enrollment_required": "true"} if issued.mfa_enrollment_required else {}
        await self._login_audit(chosen.id, username, user, Outcome.SUCCESS, meta, "", details)
        return issued

    async def _second_factor(
        self,
        user: User,
        totp_code: str | None,
        backup_code: str | None,
        keys: tuple[str, ...],
        audit_tenant: str,
        meta: RequestMeta,
    ) -> None:
        now = self._clock.now()
        if totp_code:
            assert user.totp_secret is not None
            secret = self._box.open(totp_label(user.id), user.totp_secret).decode()
            step = self._totp.matching_step(secret, totp_code.strip(), now)
            async with self._uow(None) as uow:
                fresh = step is not None and await uow.users.advance_totp_step(user.id, step)
                await uow.commit()
            if not fresh:
                await self._fail(keys, audit_tenant, user.username, user, meta, "bad-totp", InvalidMfaCode)
            return
        if backup_code:
            digest = self._box.mac("backup-code", f"{user.id}:{normalise_backup_code(backup_code)}")
            async with self._uow(None) as uow:
                used = await uow.users.use_backup_code(user.id, digest, now)
                await uow.commit()
            if not used:
                await self._fail(
                    keys, audit_tenant, user.username, user, meta, "bad-backup-code", InvalidMfaCode
                )
            await self._audit.record(
                AuditRecord(
                    tenant_id=audit_tenant,
                    actor=f"user:{user.id}",
                    action=Actions.MFA_BACKUP_CODE_USED,
                    outcome=Outcome.SUCCESS,
                    target=f"user:{user.id}",
                    request_id=meta.request_id,
                    client_ip=meta.client_ip,
                )
            )
            return
        raise MfaRequired("this account has two-factor sign-in: send `totp_code` (or a `backup_code`)")

    async def _fail(
        self,
        keys: tuple[str, ...],
        audit_tenant: str,
        username: str,
        user: User | None,
        meta: RequestMeta,
        reason: str,
        error: type[InvalidCredentials] | type[InvalidMfaCode] = InvalidCredentials,
    ) -> NoReturn:
        now = self._clock.now()
        async with self._uow(None) as uow:
            for key in keys:
                await uow.throttle.record_failure(key, now, self.policy.lockout)
            await uow.commit()
        await self._login_audit(audit_tenant, username, user, Outcome.FAILURE, meta, reason)
        if error is InvalidMfaCode:
            raise InvalidMfaCode("the two-factor code is wrong or was used already")
        raise InvalidCredentials("unknown user name or wrong password")

    async def _unknown_user(self) -> str:
        if self._unknown_user_hash is None:
            self._unknown_user_hash = await self._hasher.hash(secrets.token_urlsafe(24))
        return self._unknown_user_hash

    async def _audit_tenant_for(self, uow: IdentityUnitOfWork, hint: str | None) -> str:
        if hint and hint != PLATFORM_TENANT:
            found = await uow.tenants.get(hint) or await uow.tenants.by_name(hint)
            if found is not None:
                return found.id
        return PLATFORM_TENANT

    async def _login_audit(
        self,
        tenant_id: str,
        username: str,
        user: User | None,
        outcome: Outcome,
        meta: RequestMeta,
        reason: str,
        details: dict[str, str] | None = None,
    ) -> None:
        extra = dict(details or {})
        if reason:
            extra["reason"] = reason
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant_id,
                actor=f"user:{user.id}" if user else "anonymous",
                action=Actions.LOGIN,
                outcome=outcome,
                target=f"username:{username[:128]}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=extra,
            )
        )

    async def _resolve_tenant(
        self, uow: IdentityUnitOfWork, user: User, hint: str | None
    ) -> tuple[Tenant, tuple[str, ...]]:
        if user.is_superadmin and hint in (None, PLATFORM_TENANT):
            return self._sessions.platform(), (SUPERADMIN,)
        memberships = await uow.memberships.for_user(user.id)
        if hint:
            tenant = await uow.tenants.get(hint) or await uow.tenants.by_name(hint)
            match = [m for m in memberships if tenant is not None and m.tenant_id == tenant.id]
            if tenant is None or not match or not tenant.active:
                raise NotAMember("you are not a member of that tenant")
            return tenant, (match[0].role.value,)
        if not memberships:
            raise NotAMember("this account is not a member of any tenant")
        if len(memberships) > 1:
            raise TenantRequired("this account belongs to several tenants; name one in `tenant`")
        tenant = await uow.tenants.get(memberships[0].tenant_id)
        if tenant is None or not tenant.active:
            raise NotAMember("this account's tenant is not active")
        return tenant, (memberships[0].role.value,)
