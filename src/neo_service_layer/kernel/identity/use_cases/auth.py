"""Authentication as one object: :class:`AuthService`, what the HTTP edge, the CLI and the tests hold.

It builds the parts from one set of adapters and one :class:`AuthPolicy` and hands each call to its
part: sign-in (``sign_in``), sessions (``refresh``, ``logout``), bearer credentials (``authenticate``)
and TOTP enrolment (``start_totp``, ``confirm_totp``).
"""

from __future__ import annotations

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import (
    IdentityUnitOfWorkFactory,
    PasswordHasher,
    SecretBox,
    TokenCodec,
    TotpAuthenticator,
)
from neo_service_layer.kernel.identity.rules.access import Principal, ScopeCatalogue
from neo_service_layer.kernel.identity.rules.audit import RequestMeta
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.bearer import BearerAuthenticator
from neo_service_layer.kernel.identity.use_cases.mfa import TotpEnrolment
from neo_service_layer.kernel.identity.use_cases.principal_cache import PrincipalCaches
from neo_service_layer.kernel.identity.use_cases.sessions import IssuedTokens, Sessions
from neo_service_layer.kernel.identity.use_cases.sign_in import SignIn


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
        catalogue: ScopeCatalogue,
        caches: PrincipalCaches | None = None,
    ) -> None:
        self.policy = policy
        self._sessions = Sessions(
            uow=uow,
            box=box,
            codec=codec,
            audit=audit,
            clock=clock,
            policy=policy,
            catalogue=catalogue,
            caches=caches,
        )
        self._sign_in = SignIn(
            uow=uow,
            hasher=hasher,
            box=box,
            codec=codec,
            totp=totp,
            audit=audit,
            clock=clock,
            policy=policy,
            sessions=self._sessions,
        )
        self._bearer = BearerAuthenticator(
            uow=uow, box=box, codec=codec, audit=audit, clock=clock, policy=policy, caches=caches
        )
        self._totp = TotpEnrolment(uow=uow, box=box, totp=totp, audit=audit, clock=clock)

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
        """Password (+ second factor when enrolled) -> tokens for one tenant (see ``SignIn.sign_in``)."""
        return await self._sign_in.sign_in(
            username, password, tenant=tenant, totp_code=totp_code, backup_code=backup_code, meta=meta
        )

    async def refresh(self, refresh_token: str, *, meta: RequestMeta = RequestMeta()) -> IssuedTokens:
        """Rotate a refresh token; a reused one revokes its session (see :meth:`Sessions.refresh`)."""
        return await self._sessions.refresh(refresh_token, meta=meta)

    async def logout(self, principal: Principal, *, meta: RequestMeta = RequestMeta()) -> None:
        """Revoke the presented access token and every refresh token of its session."""
        await self._sessions.logout(principal, meta=meta)

    async def authenticate(self, credential: str, *, meta: RequestMeta = RequestMeta()) -> Principal:
        """An access token (JWT) or an API key (``nsl_<prefix>_<secret>``) -> the caller."""
        return await self._bearer.authenticate(credential, meta=meta)

    async def start_totp(self, principal: Principal, *, meta: RequestMeta = RequestMeta()) -> str:
        """Begin TOTP enrolment; return the ``otpauth://`` URI (the only time the secret is shown)."""
        return await self._totp.start_totp(principal, meta=meta)

    async def confirm_totp(
        self, principal: Principal, code: str, *, meta: RequestMeta = RequestMeta()
    ) -> list[str]:
        """Activate TOTP with a first valid code; return 10 single-use backup codes (shown once)."""
        return await self._totp.confirm_totp(principal, code, meta=meta)
