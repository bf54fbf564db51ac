"""API keys for machines: created with an explicit subset of the creator's scopes, shown once.

With an enclave, a key's secret is issued by the enclave (random part and a tag under a key only the
enclave holds, over tenant, id, prefix, scopes and expiry) and revocations are told to it, so a tenant
with enclave-checked credentials can have its key operations checked against the key itself. Without
an enclave (development tools, tests of identity alone) the secret is random, as before.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.enclave_credentials import EnclaveCredentials
from neo_service_layer.kernel.identity.ports.identity import IdentityUnitOfWorkFactory, SecretBox
from neo_service_layer.kernel.identity.rules.access import Principal, ScopeCatalogue, Scopes
from neo_service_layer.kernel.identity.rules.api_keys import API_KEY_PREFIX, ApiKey, api_key_scopes
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import ApiKeyNotFound, TenantNotFound
from neo_service_layer.kernel.identity.use_cases.principal_cache import PrincipalCaches, api_key_tag

MAX_NAME = 100


class ApiKeyService:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        box: SecretBox,
        audit: AuditLog,
        clock: Clock,
        catalogue: ScopeCatalogue,
        enclave: EnclaveCredentials | None = None,
        caches: PrincipalCaches | None = None,
    ) -> None:
        self._caches = caches
        self._enclave = enclave
        self._uow = uow
        self._box = box
        self._audit = audit
        self._clock = clock
        self._catalogue = catalogue

    async def create(
        self,
        principal: Principal,
        tenant_id: str,
        *,
        name: str,
        scopes: list[str],
        expires_at: datetime | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> tuple[ApiKey, str]:
        """Return the stored key and its full secret ``nsl_<prefix>_<secret>`` (never retrievable again)."""
        principal.require(Scopes.APIKEYS_ADMIN)
        principal.require_tenant(tenant_id)
        granted = api_key_scopes(scopes, principal.scopes, self._catalogue)
        now = self._clock.now()
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput(f"name: 1-{MAX_NAME} characters")
        if expires_at is not None:  # whole seconds: what the enclave binds into the key
            expires_at = expires_at.replace(microsecond=0)
            if expires_at <= now:
                raise InvalidInput("expires_at must be in the future")
        key_id, prefix = f"key_{uuid.uuid4().hex[:20]}", secrets.token_hex(6)
        secret = await self._secret(principal, tenant_id, key_id, prefix, granted, expires_at)
        key = ApiKey(
            id=key_id,
            tenant_id=tenant_id,
            prefix=prefix,
            secret_hash=self._box.mac("api-key", secret),
            name=name.strip(),
            scopes=granted,
            created_by=principal.actor,
            created_at=now,
            expires_at=expires_at,
        )
        async with self._uow(tenant_id) as uow:
            if await uow.tenants.get(tenant_id) is None:
                raise TenantNotFound(f"no tenant {tenant_id!r}")
            await uow.api_keys.add(key)
            await uow.commit()
        await self._record(
            principal, key, Actions.API_KEY_CREATE, meta, {"scopes": " ".join(sorted(granted))}
        )
        return key, f"{API_KEY_PREFIX}{prefix}_{secret}"

    async def _secret(
        self,
        principal: Principal,
        tenant_id: str,
        key_id: str,
        prefix: str,
        scopes: frozenset[str],
        expires_at: datetime | None,
    ) -> str:
        if self._enclave is None:
            return secrets.token_urlsafe(32)
        # an enforcing tenant's keys are issued only on presentation of one of its admin keys
        return await self._enclave.with_credential(principal.credential).issue_api_key(
            tenant=tenant_id,
            key_id=key_id,
            prefix=prefix,
            scopes=sorted(scopes),
            expires_at=None if expires_at is None else int(expires_at.timestamp()),
        )

    async def list_keys(self, principal: Principal, tenant_id: str) -> list[ApiKey]:
        principal.require(Scopes.APIKEYS_ADMIN)
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            return await uow.api_keys.for_tenant(tenant_id)

    async def get(self, principal: Principal, tenant_id: str, key_id: str) -> ApiKey:
        principal.require(Scopes.APIKEYS_ADMIN)
        principal.require_tenant(tenant_id)
        async with self._uow(tenant_id) as uow:
            key = await uow.api_keys.get(tenant_id, key_id)
        if key is None:
            raise ApiKeyNotFound(f"no API key {key_id!r} in this tenant")
        return key

    async def revoke(
        self, principal: Principal, tenant_id: str, key_id: str, *, meta: RequestMeta = RequestMeta()
    ) -> ApiKey:
        principal.require(Scopes.APIKEYS_ADMIN)
        principal.require_tenant(tenant_id)
        now = self._clock.now()
        async with self._uow(tenant_id) as uow:
            key = await uow.api_keys.get(tenant_id, key_id)
            if key is None:
                raise ApiKeyNotFound(f"no API key {key_id!r} in this tenant")
            if self._enclave is not None:  # first: the enclave refuses it even if the database lags
                await self._enclave.revoke_api_key(key_id)
            await uow.api_keys.revoke(tenant_id, key_id, now)
            await uow.commit()
        if self._caches is not None:
            await self._caches.forget(api_key_tag(key_id))
        await self._record(principal, key, Actions.API_KEY_REVOKE, meta, {})
        async with self._uow(tenant_id) as uow:
            revoked = await uow.api_keys.get(tenant_id, key_id)
        assert revoked is not None
        return revoked

    async def _record(
        self, principal: Principal, key: ApiKey, action: str, meta: RequestMeta, details: dict[str, str]
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=key.tenant_id,
                actor=principal.actor,
                action=action,
                outcome=Outcome.SUCCESS,
                target=f"api_key:{key.id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details={"prefix": key.prefix, "name": key.name, **details},
            )
        )
