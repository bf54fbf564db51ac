"""Sign-in: user name and password, then the second factor when enrolled, then tokens for one tenant.

Failures are throttled per (account, client): after a few, that client waits 1 s, 2 s, 4 s ... (capped)
before it may try that account again, while every other client may still sign in to it. A client
failing on many accounts waits too, and an account failing from many clients gives each client only
one free failure (``LockoutPolicy``). An unknown user costs the same password-hash work as a wrong
password, so the two cannot be told apart.

Every attempt is audited: a success in the tenant signed in to; a failure or a throttled attempt (the
caller is not authenticated) only in the platform's chain, so no one can write to a tenant's chain
without signing in to it.
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
    InvalidCredentials,
    InvalidMfaCode,
    MfaRequired,
    NotAMember,
    TenantRequired,
)
from neo_service_layer.kernel.identity.rules.passwords import (
    ThrottleKeys,
    normalise_password,
    throttle_keys,
)
from neo_service_layer.kernel.identity.rules.rate_limits import SignInThrottled
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
            SignInThrottled: this client failed too often on this account (or on many); 429.
            InvalidCredentials: unknown user or wrong password (indistinguishable, same work done).
            MfaRequired / InvalidMfaCode: TOTP enrolled and the code is missing / wrong.
            NotAMember / TenantRequired: no such membership / several tenants and none named.
        """
        now = self._clock.now()
        keys = throttle_keys(username, meta.client_ip)
        password = normalise_password(password)
        async with self._uow(None) as uow:
            wait = (await uow.throttle.get(keys.pair)).retry_after(now)
            if keys.client is not None:
                wait = max(wait, (await uow.throttle.get(keys.client)).retry_after(now))
            user = await uow.users.by_username(username)
        if wait:
            await self._login_audit(
                PLATFORM_TENANT,
                username,
                user,
                Outcome.DENIED,
                meta,
                "throttled",
                {"tenant": (tenant or "")[:64]},
            )
            raise SignInThrottled(wait)
        if user is None:
            await self._hasher.verify(await self._unknown_user(), password)
            await self._fail(keys, tenant, username, None, meta, "bad-credentials")
        elif not await self._hasher.verify(user.password_hash, password) or user.disabled:
            await self._fail(keys, tenant, username, user, meta, "bad-credentials")
        assert user is not None
        used_backup_code = False
        if user.mfa_enabled:
            used_backup_code = await self._second_factor(user, totp_code, backup_code, keys, tenant, meta)
        await self._codec.ensure_key()  # may write the first key: not inside the transaction below
        async with self._uow(None) as uow:
            await uow.throttle.clear(keys.pair)
            if self._hasher.needs_rehash(user.password_hash):
                await uow.users.set_password_hash(user.id, await self._hasher.hash(password))
            chosen, roles = await self._resolve_tenant(uow, user, tenant)
            issued = await self._sessions.issue(uow, user, chosen, roles, family_id=None)
            await uow.commit()
        if used_backup_code:
            await self._audit.record(
                AuditRecord(
                    tenant_id=chosen.id,
                    actor=f"user:{user.id}",
                    action=Actions.MFA_BACKUP_CODE_USED,
                    outcome=Outcome.SUCCESS,
                    target=f"user:{user.id}",
                    request_id=meta.request_id,
                    client_ip=meta.client_ip,
                )
            )
        details = {"mfa_enrollment_required": "true"} if issued.mfa_enrollment_required else {}
        await self._login_audit(chosen.id, username, user, Outcome.SUCCESS, meta, "", details)
        return issued

    async def _second_factor(
        self,
        user: User,
        totp_code: str | None,
        backup_code: str | None,
        keys: ThrottleKeys,
        tenant: str | None,
        meta: RequestMeta,
    ) -> bool:
        """Check the TOTP or backup code; True when a backup code was used (audited after success)."""
        now = self._clock.now()
        if totp_code:
            assert user.totp_secret is not None
            secret = self._box.open(totp_label(user.id), user.totp_secret).decode()
            step = self._totp.matching_step(secret, totp_code.strip(), now)
            async with self._uow(None) as uow:
                fresh = step is not None and await uow.users.advance_totp_step(user.id, step)
                await uow.commit()
            if not fresh:
                await self._fail(keys, tenant, user.username, user, meta, "bad-totp", InvalidMfaCode)
            return False
        if backup_code:
            digest = self._box.mac("backup-code", f"{user.id}:{normalise_backup_code(backup_code)}")
            async with self._uow(None) as uow:
                used = await uow.users.use_backup_code(user.id, digest, now)
                await uow.commit()
            if not used:
                await self._fail(keys, tenant, user.username, user, meta, "bad-backup-code", InvalidMfaCode)
            return True
        raise MfaRequired("this account has two-factor sign-in: send `totp_code` (or a `backup_code`)")

    async def _fail(
        self,
        keys: ThrottleKeys,
        tenant: str | None,
        username: str,
        user: User | None,
        meta: RequestMeta,
        reason: str,
        error: type[InvalidCredentials] | type[InvalidMfaCode] = InvalidCredentials,
    ) -> NoReturn:
        """Count the failure (account, pair, client), audit it in the platform's chain, raise ``error``."""
        now = self._clock.now()
        policy = self.policy.lockout
        async with self._uow(None) as uow:
            account = await uow.throttle.record_failure(keys.account, now, policy, None)
            free = 1 if account.failures >= policy.account_alarm else policy.max_failures
            await uow.throttle.record_failure(keys.pair, now, policy, free)
            if keys.client is not None:
                await uow.throttle.record_failure(keys.client, now, policy, policy.client_max_failures)
            await uow.commit()
        await self._login_audit(
            PLATFORM_TENANT, username, user, Outcome.FAILURE, meta, reason, {"tenant": (tenant or "")[:64]}
        )
        if error is InvalidMfaCode:
            raise InvalidMfaCode("the two-factor code is wrong or was used already")
        raise InvalidCredentials("unknown user name or wrong password")

    async def _unknown_user(self) -> str:
        if self._unknown_user_hash is None:
            self._unknown_user_hash = await self._hasher.hash(secrets.token_urlsafe(24))
        return self._unknown_user_hash

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
