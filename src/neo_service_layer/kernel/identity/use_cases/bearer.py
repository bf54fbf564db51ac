"""Bearer credentials: turning an access token (JWT) or an API key into the :class:`Principal` calling.

Runs on every authenticated request: a token is checked by signature, times and the sign-out list, and
its holder must still be an enabled account and (outside ``_platform``) still a member of the token's
tenant since before the token was issued, so disabling a user or removing a member ends their access
tokens at once; an API key by its keyed hash, and its last use is recorded at most once per
``api_key_touch_interval``. With :class:`PrincipalCaches`, a credential checked once is answered from
memory until a write invalidates it (``principal_cache``); times and expiry are checked every time.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.cache.use_cases.single_flight import SingleFlight
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import IdentityUnitOfWorkFactory, SecretBox, TokenCodec
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT
from neo_service_layer.kernel.identity.rules.api_keys import API_KEY_PREFIX, parse_api_key
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import InvalidApiKey, TokenRevoked
from neo_service_layer.kernel.identity.rules.tokens import TokenClaims, check_token_times
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.principal_cache import (
    KeyEntry,
    PrincipalCaches,
    TokenEntry,
    api_key_tag,
    credential_key,
    session_tag,
    tenant_tag,
    token_tag,
    user_tag,
)


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
        caches: PrincipalCaches | None = None,
    ) -> None:
        self._caches = caches
        self._loading = SingleFlight[tuple[str, int], Principal]()
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
        cache = None if self._caches is None else self._caches.tokens
        if cache is None:
            return await self._load_token(credential, None, "", 0)
        key = credential_key(credential)
        cached = cache.get(key)
        if cached is not None:
            check_token_times(cached.claims, self._clock.now(), self.policy.leeway_seconds)
            if not self._refresh_due(cache, key):
                return cached.principal
        generation = cache.generation()
        return await self._loading.run(
            (key, generation), lambda: self._load_token(credential, cache, key, generation)
        )

    async def _load_token(
        self, credential: str, cache: Cache[TokenEntry] | None, key: str, generation: int
    ) -> Principal:
        claims = await self._codec.verify(credential)
        check_token_times(claims, self._clock.now(), self.policy.leeway_seconds)
        await self._check_holder(claims)
        principal = claims.principal()
        if cache is not None:
            tags = [user_tag(claims.sub), token_tag(claims.jti), tenant_tag(claims.tenant)]
            if claims.sid:
                tags.append(session_tag(claims.sid))
            cache.put(key, TokenEntry(claims, principal), tags, generation)
        return principal

    async def _check_holder(self, claims: TokenClaims) -> None:
        """Not signed out; the account enabled and still a member (or superadmin) since ``iat``."""
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

    async def _authenticate_key(self, credential: str, meta: RequestMeta) -> Principal:
        parsed = parse_api_key(credential)
        if parsed is None:
            raise InvalidApiKey("malformed API key")
        prefix, secret = parsed
        now = self._clock.now()
        cache = None if self._caches is None else self._caches.api_keys
        if cache is None:
            return await self._load_key(credential, prefix, secret, meta, None, "", 0)
        key = credential_key(credential)
        cached = cache.get(key)
        if cached is not None and cached.usable_at(now) and not self._refresh_due(cache, key):
            await self._touch_cached(cached, now)  # expired: the path below refuses it
            return cached.principal
        generation = cache.generation()
        return await self._loading.run(
            (key, generation),
            lambda: self._load_key(credential, prefix, secret, meta, cache, key, generation),
        )

    async def _load_key(
        self,
        credential: str,
        prefix: str,
        secret: str,
        meta: RequestMeta,
        cache: Cache[KeyEntry] | None,
        cache_key: str,
        generation: int,
    ) -> Principal:
        now = self._clock.now()
        digest = self._box.mac("api-key", secret)
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
        principal = Principal(
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
        if cache is not None:
            tags = (api_key_tag(key.id), key.created_by, tenant_tag(key.tenant_id))
            last_used = now if key.last_used_at is None or now - key.last_used_at >= self._touch else None
            entry = KeyEntry(principal, key.expires_at, last_used or key.last_used_at)
            cache.put(cache_key, entry, tags, generation)
        return principal

    def _refresh_due(self, cache: Cache[KeyEntry] | Cache[TokenEntry], key: str) -> bool:
        """A cached credential near its expiry is checked again by the request that finds it so, while
        the requests after it are answered from the cache until that check ends: under load one
        request waits for the database each time to live, not every request in flight."""
        return cache.expiring(key) and not self._loading.running((key, cache.generation()))

    @property
    def _touch(self) -> timedelta:
        return self.policy.api_key_touch_interval

    async def _touch_cached(self, entry: KeyEntry, now: datetime) -> None:
        """Record the use of a cached key when the last record is ``api_key_touch_interval`` old."""
        if entry.last_used_at is not None and now - entry.last_used_at < self._touch:
            return
        entry.last_used_at = now  # first, so that concurrent requests do not all write
        key_id, tenant_id = entry.principal.key_id, entry.principal.tenant_id
        assert key_id is not None
        async with self._uow(tenant_id) as uow:
            await uow.api_keys.touch(tenant_id, key_id, now)
            await uow.commit()
