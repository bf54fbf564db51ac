"""Authentication: sign-in (password + TOTP), token refresh with reuse detection, logout, MFA
enrolment, and turning a bearer credential (access token or API key) into a :class:`Principal`.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from neo_service_layer.enclave.wire.errors import InvalidInput
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
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.identity import (
    PLATFORM_TENANT,
    SUPERADMIN,
    AccountLocked,
    InvalidApiKey,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidToken,
    MfaAlreadyEnabled,
    MfaNotStarted,
    MfaRequired,
    NotAMember,
    Principal,
    PrincipalKind,
    RefreshReuseDetected,
    RefreshToken,
    Scopes,
    Tenant,
    TenantRequired,
    TokenClaims,
    TokenExpired,
    TokenRevoked,
    User,
    check_token_times,
    needs_mfa_enrolment,
    user_token_scopes,
)
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy, lockout_keys, normalise_password

API_KEY_PREFIX = "nsl_"
REFRESH_TOKEN_PREFIX = "nslr_"  # noqa: S105 (a prefix, not a secret)
BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    issuer: str
    audience: str
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    leeway_seconds: int = 10
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    mfa_required_roles: frozenset[str] = frozenset({SUPERADMIN, "owner", "admin"})
    password_min_length: int = 12
    api_key_touch_interval: timedelta = timedelta(seconds=60)
    totp_issuer: str = "Neo Service Layer"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    tenant_id: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    mfa_enrollment_required: bool = False


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def totp_label(user_id: str) -> str:
    return f"totp:{user_id}"


def parse_api_key(credential: str) -> tuple[str, str] | None:
    """``nsl_<prefix>_<secret>`` -> (prefix, secret); ``None`` when it is not shaped like that."""
    if not credential.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, secret = credential[len(API_KEY_PREFIX) :].partition("_")
    if not sep or not prefix.isalnum() or len(prefix) > 32 or not (16 <= len(secret) <= 128):
        return None
    return prefix, secret


def normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


class AuthService:
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
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._box = box
        self._codec = codec
        self._totp = totp
        self._audit = audit
        self._clock = clock
        self.policy = policy
        self._unknown_user_hash: str | None = None

    # Sign-in ---------------------------------------------------------------------------------

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
            issued = await self._issue(uow, user, chosen, roles, family_id=None)
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
            return self._platform(), (SUPERADMIN,)
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

    def _platform(self) -> Tenant:
        return Tenant(id=PLATFORM_TENANT, name="platform", plan="platform", created_at=self._clock.now())

    async def _issue(
        self,
        uow: IdentityUnitOfWork,
        user: User,
        tenant: Tenant,
        roles: tuple[str, ...],
        *,
        family_id: str | None,
    ) -> IssuedTokens:
        now = self._clock.now()
        limited = needs_mfa_enrolment(roles, user.mfa_enabled, self.policy.mfa_required_roles)
        scopes = frozenset({Scopes.AUTH_MFA}) if limited else user_token_scopes(roles)
        session = None if limited else (family_id or new_id("ses"))
        iat = int(now.timestamp())
        claims = TokenClaims(
            sub=user.id,
            tenant=tenant.id,
            roles=tuple(sorted(roles)),
            scopes=tuple(sorted(scopes)),
            jti=uuid.uuid4().hex,
            iat=iat,
            exp=iat + int(self.policy.access_ttl.total_seconds()),
            iss=self.policy.issuer,
            aud=self.policy.audience,
            sid=session,
            plan=tenant.plan,
        )
        access = await self._codec.issue(claims)
        issued = IssuedTokens(
            access_token=access,
            expires_in=int(self.policy.access_ttl.total_seconds()),
            tenant_id=tenant.id,
            roles=claims.roles,
            scopes=claims.scopes,
            mfa_enrollment_required=limited,
        )
        if session is None:
            return issued
        refresh = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
        await uow.enter_tenant(tenant.id)
        await uow.refresh_tokens.add(
            RefreshToken(
                id=new_id("rt"),
                family_id=session,
                tenant_id=tenant.id,
                user_id=user.id,
                token_hash=self._box.mac("refresh-token", refresh),
                issued_at=now,
                expires_at=now + self.policy.refresh_ttl,
            )
        )
        return IssuedTokens(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            tenant_id=issued.tenant_id,
            roles=issued.roles,
            scopes=issued.scopes,
            refresh_token=refresh,
            refresh_expires_in=int(self.policy.refresh_ttl.total_seconds()),
        )

    # Refresh and logout ----------------------------------------------------------------------

    async def refresh(self, refresh_token: str, *, meta: RequestMeta = RequestMeta()) -> IssuedTokens:
        """Rotate a refresh token. Presenting a rotated one again revokes its whole family.

        Raises:
            InvalidToken, TokenExpired, TokenRevoked, RefreshReuseDetected, NotAMember.
        """
        now = self._clock.now()
        digest = self._box.mac("refresh-token", refresh_token)
        await self._codec.ensure_key()
        async with self._uow(None) as uow:
            found = await uow.refresh_tokens.by_hash(digest)
            if found is None:
                raise InvalidToken("unknown refresh token")
            await uow.enter_tenant(found.tenant_id)
            if found.revoked_at is not None:
                raise TokenRevoked("this refresh token was revoked")
            if found.rotated_at is not None or not await uow.refresh_tokens.mark_rotated(found.id, now):
                revoked = await uow.refresh_tokens.revoke_family(found.tenant_id, found.family_id, now)
                await uow.commit()
                reuse = True
            else:
                reuse = False
                revoked = 0
            if not reuse:
                issued = await self._refresh_session(uow, found, now)
                await uow.commit()
        if reuse:
            await self._audit.record(
                AuditRecord(
                    tenant_id=found.tenant_id,
                    actor=f"user:{found.user_id}",
                    action=Actions.REFRESH_REUSE,
                    outcome=Outcome.DENIED,
                    target=f"session:{found.family_id}",
                    request_id=meta.request_id,
                    client_ip=meta.client_ip,
                    details={"revoked_tokens": str(revoked)},
                )
            )
            raise RefreshReuseDetected(
                "this refresh token was used already; every token of the session is revoked"
            )
        await self._audit.record(
            AuditRecord(
                tenant_id=found.tenant_id,
                actor=f"user:{found.user_id}",
                action=Actions.REFRESH,
                outcome=Outcome.SUCCESS,
                target=f"session:{found.family_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
            )
        )
        return issued

    async def _refresh_session(
        self, uow: IdentityUnitOfWork, found: RefreshToken, now: datetime
    ) -> IssuedTokens:
        if now >= found.expires_at:
            raise TokenExpired("the refresh token has expired; sign in again")
        user = await uow.users.get(found.user_id)
        if user is None or user.disabled:
            await uow.refresh_tokens.revoke_family(found.tenant_id, found.family_id, now)
            raise InvalidToken("the account of this session is disabled")
        if found.tenant_id == PLATFORM_TENANT:
            if not user.is_superadmin:
                raise NotAMember("this account is no longer a superadmin")
            return await self._issue(uow, user, self._platform(), (SUPERADMIN,), family_id=found.family_id)
        membership = await uow.memberships.get(found.tenant_id, found.user_id)
        tenant = await uow.tenants.get(found.tenant_id)
        if membership is None or tenant is None or not tenant.active:
            raise NotAMember("this account is no longer a member of the session's tenant")
        return await self._issue(uow, user, tenant, (membership.role.value,), family_id=found.family_id)

    async def logout(self, principal: Principal, *, meta: RequestMeta = RequestMeta()) -> None:
        """Revoke the presented access token and every refresh token of its session."""
        if principal.kind is not PrincipalKind.USER or principal.token_id is None:
            raise InvalidInput("API keys do not sign out; revoke the key instead")
        now = self._clock.now()
        async with self._uow(principal.tenant_id) as uow:
            await uow.revoked_tokens.add(
                principal.token_id,
                principal.tenant_id,
                now + self.policy.access_ttl + timedelta(seconds=self.policy.leeway_seconds),
                now,
            )
            if principal.session_id:
                await uow.refresh_tokens.revoke_family(principal.tenant_id, principal.session_id, now)
            await uow.commit()
        await self._audit.record(
            AuditRecord(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=Actions.LOGOUT,
                outcome=Outcome.SUCCESS,
                target=f"session:{principal.session_id or '-'}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
            )
        )

    # Bearer credentials ----------------------------------------------------------------------

    async def authenticate(self, credential: str, *, meta: RequestMeta = RequestMeta()) -> Principal:
        """An access token (JWT) or an API key (``nsl_<prefix>_<secret>``) -> the caller.

        Raises:
            InvalidToken (and subclasses), InvalidApiKey.
        """
        if credential.startswith(API_KEY_PREFIX):
            return await self._authenticate_key(credential, meta)
        claims = await self._codec.verify(credential)
        check_token_times(claims, self._clock.now(), self.policy.leeway_seconds)
        async with self._uow(claims.tenant) as uow:
            if await uow.revoked_tokens.is_revoked(claims.jti):
                raise TokenRevoked("this access token was revoked (signed out)")
        return claims.principal()

    async def _authenticate_key(self, credential: str, meta: RequestMeta) -> Principal:
        parsed = parse_api_key(credential)
        if parsed is None:
            raise InvalidApiKey("malformed API key")
        prefix, secret = parsed
        digest = self._box.mac("api-key", secret)
        now = self._clock.now()
        async with self._uow(None) as uow:
            key = await uow.api_keys.by_prefix(prefix)
            if key is None or not hmac.compare_digest(key.secret_hash, digest):
                raise InvalidApiKey("invalid API key")
            usable = key.usable_at(now)
            if usable and (
                key.last_used_at is None or now - key.last_used_at >= self.policy.api_key_touch_interval
            ):
                await uow.enter_tenant(key.tenant_id)
                await uow.api_keys.touch(key.tenant_id, key.id, now)
                await uow.commit()
        if not usable:
            await self._audit.record(
                AuditRecord(
                    tenant_id=key.tenant_id,
                    actor=f"api_key:{key.id}",
                    action=Actions.API_KEY_REFUSED,
                    outcome=Outcome.DENIED,
                    target=f"api_key:{key.id}",
                    request_id=meta.request_id,
                    client_ip=meta.client_ip,
                    details={"reason": "revoked" if key.revoked_at else "expired"},
                )
            )
            raise InvalidApiKey("this API key is revoked or expired")
        return Principal(
            tenant_id=key.tenant_id,
            subject=key.id,
            kind=PrincipalKind.API_KEY,
            scopes=key.scopes,
            key_id=key.id,
            plan=key.plan,
        )

    # MFA -------------------------------------------------------------------------------------

    async def start_totp(self, principal: Principal, *, meta: RequestMeta = RequestMeta()) -> str:
        """Begin TOTP enrolment; return the ``otpauth://`` URI (the only time the secret is shown)."""
        user = await self._signed_in_user(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled("two-factor sign-in is enabled already")
        secret = self._totp.new_secret()
        async with self._uow(None) as uow:
            pending = self._box.seal(totp_label(user.id), secret.encode())
            await uow.users.set_totp(user.id, secret=None, pending=pending, last_step=0)
            await uow.commit()
        await self._mfa_audit(principal, Actions.MFA_ENROLL, Outcome.SUCCESS, meta)
        return self._totp.provisioning_uri(secret, user.username)

    async def confirm_totp(
        self, principal: Principal, code: str, *, meta: RequestMeta = RequestMeta()
    ) -> list[str]:
        """Activate TOTP with a first valid code; return 10 single-use backup codes (shown once)."""
        user = await self._signed_in_user(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled("two-factor sign-in is enabled already")
        if user.totp_pending is None:
            raise MfaNotStarted("start enrolment first (POST .../totp/enroll)")
        secret = self._box.open(totp_label(user.id), user.totp_pending).decode()
        step = self._totp.matching_step(secret, code.strip(), self._clock.now())
        if step is None:
            await self._mfa_audit(principal, Actions.MFA_ENABLED, Outcome.FAILURE, meta)
            raise InvalidMfaCode("the code does not match; check the authenticator's clock")
        codes = [
            "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10)) for _ in range(BACKUP_CODE_COUNT)
        ]
        async with self._uow(None) as uow:
            await uow.users.set_totp(user.id, secret=user.totp_pending, pending=None, last_step=step)
            await uow.users.replace_backup_codes(
                user.id, [self._box.mac("backup-code", f"{user.id}:{c}") for c in codes]
            )
            await uow.commit()
        await self._mfa_audit(principal, Actions.MFA_ENABLED, Outcome.SUCCESS, meta)
        return [f"{c[:5]}-{c[5:]}" for c in codes]

    async def _signed_in_user(self, principal: Principal) -> User:
        if principal.kind is not PrincipalKind.USER:
            raise InvalidInput("only a signed-in user can enrol two-factor sign-in")
        async with self._uow(None) as uow:
            user = await uow.users.get(principal.subject)
        if user is None or user.disabled:
            raise InvalidToken("the account of this token no longer exists")
        return user

    async def _mfa_audit(
        self, principal: Principal, action: str, outcome: Outcome, meta: RequestMeta
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=action,
                outcome=outcome,
                target=f"user:{principal.subject}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
            )
        )
