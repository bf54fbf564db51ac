"""Sessions: issuing tokens, rotating a refresh token (a reused one revokes its session), signing out.

A session is a family of refresh tokens; each refresh rotates the presented token and issues a new
access token with the user's current role. An account that must enrol MFA first gets an access token
limited to MFA enrolment, and no session.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import (
    IdentityUnitOfWork,
    IdentityUnitOfWorkFactory,
    SecretBox,
    TokenCodec,
)
from neo_service_layer.kernel.identity.rules.access import (
    Principal,
    PrincipalKind,
    ScopeCatalogue,
    Scopes,
    needs_mfa_enrolment,
)
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN, Tenant, User
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    InvalidToken,
    NotAMember,
    RefreshReuseDetected,
    TokenExpired,
    TokenRevoked,
)
from neo_service_layer.kernel.identity.rules.tokens import RefreshToken, TokenClaims
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.principal_cache import (
    PrincipalCaches,
    session_tag,
    token_tag,
)

REFRESH_TOKEN_PREFIX = "nslr_"  # noqa: S105 (a prefix, not a secret)


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


class Sessions:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        box: SecretBox,
        codec: TokenCodec,
        audit: AuditLog,
        clock: Clock,
        policy: AuthPolicy,
        catalogue: ScopeCatalogue,
        caches: PrincipalCaches | None = None,
    ) -> None:
        self._caches = caches
        self._uow = uow
        self._box = box
        self._codec = codec
        self._audit = audit
        self._clock = clock
        self.policy = policy
        self._catalogue = catalogue

    def platform(self) -> Tenant:
        """The pseudo-tenant a superadmin signs in to."""
        return Tenant(id=PLATFORM_TENANT, name="platform", plan="platform", created_at=self._clock.now())

    async def issue(
        self,
        uow: IdentityUnitOfWork,
        user: User,
        tenant: Tenant,
        roles: tuple[str, ...],
        *,
        family_id: str | None,
    ) -> IssuedTokens:
        """Tokens for ``user`` in ``tenant``: an access token and, unless MFA enrolment is due first, a
        refresh token of session ``family_id`` (a new session when ``None``) stored through ``uow``.
        """
        now = self._clock.now()
        limited = needs_mfa_enrolment(roles, user.mfa_enabled, self.policy.mfa_required_roles)
        scopes = frozenset({Scopes.AUTH_MFA}) if limited else self._catalogue.user_token_scopes(roles)
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
                if self._caches is not None:
                    await self._caches.forget(session_tag(found.family_id))
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
            return await self.issue(uow, user, self.platform(), (SUPERADMIN,), family_id=found.family_id)
        membership = await uow.memberships.get(found.tenant_id, found.user_id)
        tenant = await uow.tenants.get(found.tenant_id)
        if membership is None or tenant is None or not tenant.active:
            raise NotAMember("this account is no longer a member of the session's tenant")
        return await self.issue(uow, user, tenant, (membership.role.value,), family_id=found.family_id)

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
        if self._caches is not None:
            tags = [token_tag(principal.token_id)]
            if principal.session_id:
                tags.append(session_tag(principal.session_id))
            await self._caches.forget(*tags)
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
