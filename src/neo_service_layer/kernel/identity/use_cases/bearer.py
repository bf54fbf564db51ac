"""Bearer credentials: turning an access token (JWT) or an API key into the :class:`Principal` calling.

Runs on every authenticated request: a token is checked by signature, times and the sign-out list, and
its holder must still be an enabled account and (outside ``_platform``) still a member of the token's
tenant since before the token was issued, so disabling a user or removing a member ends their access
tokens at once; an API key by its keyed hash, and its last use is recorded at most once per
``api_key_touch_interval``.
"""

from __future__ import annotations

import hmac

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import IdentityUnitOfWorkFactory, SecretBox, TokenCodec
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT
from neo_service_layer.kernel.identity.rules.api_keys import API_KEY_PREFIX, parse_api_key
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import InvalidApiKey, TokenRevoked
from neo_service_layer.kernel.identity.rules.tokens import check_token_times
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy


class BearerAuthenticator:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        box: SecretBox,
        codec: TokenCodec,
        audit: AuditLog,
        clock: Clock,
        policy: AuthPolicy,
    ) -> None:
        self._uow = uow
        self._box = box
        self._codec = codec
        self._audit = audit
        self._clock = clock
        self.policy = policy

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
            user = await uow.users.get(claims.sub)
            if user is None or user.disabled:
                raise TokenRevoked("the account of this token is disabled")
            if claims.tenant == PLATFORM_TENANT:
                if not user.is_superadmin:
                    raise TokenRevoked("this account is no longer a superadmin")
            else:
                member = await uow.memberships.get(claims.tenant, claims.sub)
                if member is None or int(member.created_at.timestamp()) > claims.iat:
                    raise TokenRevoked("this account is no longer a member of the token's tenant")
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
            credential=ApiKeyCredential(
                api_key=credential,
                tenant=key.tenant_id,
                key_id=key.id,
                scopes=tuple(sorted(key.scopes)),
                expires_at=None if key.expires_at is None else int(key.expires_at.timestamp()),
            ),
        )
