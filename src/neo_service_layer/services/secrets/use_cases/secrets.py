"""Secrets service: store tenant secrets sealed by the enclave, list their metadata, import from providers.

A value is sealed by the enclave (``Enclave.seal(tenant, "secret:<name>:v<version>", value)``) before it
is stored and is never returned by the API. Later services running enclave-side work call
:meth:`SecretsService.sealed_for_consumer` to get the sealed blob of the current version, which is only
given to consumers the tenant allowed; the enclave unseals it with the same tenant and label.

Imports read each named secret once through a ``SecretSource`` and seal it at once. Provider
credentials are used for that request only; when the tenant asks to remember the source for re-sync,
the whole configuration (credentials included) is sealed by the enclave too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from neo_service_layer.enclave.wire.errors import Conflict, InvalidInput
from neo_service_layer.enclave.wire.keys import TenantId
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.ports import (
    RememberedSource,
    SecretSource,
    SecretSourceConfig,
    SecretSourceError,
    SecretsUnitOfWorkFactory,
)
from neo_service_layer.services.secrets.rules import (
    Consumer,
    ConsumerNotAllowed,
    SecretExpired,
    SecretSourceKind,
    SecretVersion,
    TenantSecret,
    TenantSecretNotFound,
    check_allowed_hosts,
    check_secret_name,
    check_value,
    expiry,
    seal_label,
    seal_payload,
    source_seal_label,
)
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from neo_service_layer.services.secrets.use_cases.import_plan import ImportItem, VaultField, import_plan
from neo_service_layer.services.secrets.use_cases.source_configs import (
    decode_config,
    encode_config,
    provider_of,
)


class SecretActions:
    WRITE = "secret.write"
    DELETE = "secret.delete"
    IMPORT = "secret.import"
    READ_FOR_CONSUMER = Actions.SECRET_ACCESS


class SourceNotFound(TenantSecretNotFound):
    code = "secret-source-not-remembered"


@dataclass(frozen=True, slots=True)
class ImportResult:
    name: str
    imported: bool
    version: int | None = None
    error: str | None = None
    detail: str | None = None


class SecretsService:
    def __init__(
        self,
        *,
        uow: SecretsUnitOfWorkFactory,
        enclave: Callable[[], Enclave],
        audit: AuditLog,
        clock: Clock,
        sources: Callable[[SecretSourceConfig], SecretSource],
    ) -> None:
        self._uow = uow
        self._enclave = enclave
        self._audit = audit
        self._clock = clock
        self._sources = sources

    # Metadata -----------------------------------------------------------------------------------

    async def list_secrets(self, principal: Principal) -> list[TenantSecret]:
        principal.require(SECRETS_READ)
        async with self._uow(principal.tenant_id) as uow:
            return await uow.secrets.for_tenant(principal.tenant_id)

    async def get(self, principal: Principal, name: str) -> TenantSecret:
        principal.require(SECRETS_READ)
        return await self._get(principal.tenant_id, name)

    async def _get(self, tenant_id: TenantId, name: str) -> TenantSecret:
        async with self._uow(tenant_id) as uow:
            secret = await uow.secrets.get(tenant_id, check_secret_name(name))
        if secret is None:
            raise TenantSecretNotFound(f"no secret {name!r} in this tenant")
        return secret

    # Writing ------------------------------------------------------------------------------------

    async def put(
        self,
        principal: Principal,
        name: str,
        value: Secret[bytes],
        *,
        consumers: frozenset[Consumer],
        allowed_hosts: Sequence[str] = (),
        ttl_seconds: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> tuple[TenantSecret, bool]:
        """Create the secret (version 1), or store a new version with these consumers; (secret, created).

        ``allowed_hosts`` pins the hosts the oracle may send this version to; it is sealed with the
        value, so changing it takes a new version. Without hosts the oracle sends the secret nowhere.
        """
        principal.require(SECRETS_WRITE)
        check_secret_name(name)
        hosts = check_allowed_hosts(list(allowed_hosts))
        async with self._uow(principal.tenant_id) as uow:
            existing = await uow.secrets.get(principal.tenant_id, name)
        secret = await self._write(
            principal,
            name,
            value,
            existing,
            consumers,
            ttl_seconds,
            SecretSourceKind.MANUAL.value,
            meta,
            hosts,
        )
        return secret, existing is None

    async def rotate(
        self,
        principal: Principal,
        name: str,
        value: Secret[bytes],
        *,
        ttl_seconds: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> TenantSecret:
        """A new value for an existing secret: the next version (the previous ones stay listed)."""
        principal.require(SECRETS_WRITE)
        existing = await self._get(principal.tenant_id, name)
        return await self._write(
            principal,
            name,
            value,
            existing,
            existing.consumers,
            ttl_seconds,
            SecretSourceKind.MANUAL.value,
            meta,
            existing.allowed_hosts,
        )

    async def _write(
        self,
        principal: Principal,
        name: str,
        value: Secret[bytes],
        existing: TenantSecret | None,
        consumers: frozenset[Consumer],
        ttl_seconds: int | None,
        source: str,
        meta: RequestMeta,
        allowed_hosts: tuple[str, ...],
    ) -> TenantSecret:
        tenant = principal.tenant_id
        plaintext = check_value(value.reveal())
        now = self._clock.now()
        number = 1 if existing is None else existing.current_version + 1
        version = SecretVersion(number, now, expiry(now, ttl_seconds), source, len(plaintext))
        # the pinned hosts are sealed with the value: the enclave reads them from here, not from the row
        sealed = await self._enclave().seal(
            tenant, seal_label(name, number), seal_payload(plaintext, allowed_hosts)
        )
        if existing is None:
            secret = TenantSecret(
                tenant, name, consumers, number, now, now, (version,), allowed_hosts=allowed_hosts
            )
        else:
            secret = replace(
                existing,
                allowed_hosts=allowed_hosts,
                consumers=consumers,
                current_version=number,
                updated_at=now,
                versions=(*existing.versions, version),
            )
        async with self._uow(tenant) as uow:
            await uow.secrets.save(secret, sealed)
            await uow.commit()
        details = {
            "version": str(number),
            "source": source,
            "consumers": _names(consumers),
            "allowed_hosts": " ".join(allowed_hosts),
        }
        await self._record(tenant, principal.actor, SecretActions.WRITE, name, meta, details)
        return secret

    async def delete(self, principal: Principal, name: str, *, meta: RequestMeta = RequestMeta()) -> None:
        """Delete the secret and every sealed version of it."""
        principal.require(SECRETS_WRITE)
        tenant = principal.tenant_id
        async with self._uow(tenant) as uow:
            deleted = await uow.secrets.delete(tenant, check_secret_name(name))
            await uow.commit()
        if not deleted:
            raise TenantSecretNotFound(f"no secret {name!r} in this tenant")
        await self._record(tenant, principal.actor, SecretActions.DELETE, name, meta, {})

    # For enclave-side use by later services ------------------------------------------------------

    async def sealed_for_consumer(
        self, tenant_id: TenantId, name: str, consumer: Consumer, *, request_id: str = ""
    ) -> tuple[str, bytes]:
        """(seal label, sealed blob) of the current version, for ``Enclave.unseal(tenant, label, blob)``.

        Raises:
            TenantSecretNotFound: no such secret. ConsumerNotAllowed: not shared with ``consumer``.
            SecretExpired: the current version's TTL has passed.
        """
        actor = f"service:{consumer.value}"
        meta = RequestMeta(request_id=request_id)
        secret = await self._get(tenant_id, name)
        try:
            current = secret.check_consumer(consumer, self._clock.now())
        except (ConsumerNotAllowed, SecretExpired, TenantSecretNotFound) as exc:
            details = {"consumer": consumer.value, "reason": type(exc).__name__}
            await self._record(
                tenant_id, actor, SecretActions.READ_FOR_CONSUMER, name, meta, details, Outcome.DENIED
            )
            raise
        async with self._uow(tenant_id) as uow:
            blob = await uow.secrets.sealed(tenant_id, name, current.version)
        if blob is None:
            raise TenantSecretNotFound(f"secret {name!r} has no stored version {current.version}")
        details = {"consumer": consumer.value, "version": str(current.version)}
        await self._record(tenant_id, actor, SecretActions.READ_FOR_CONSUMER, name, meta, details)
        return seal_label(name, current.version), blob

    # Imports --------------------------------------------------------------------------------------

    async def import_secrets(
        self,
        principal: Principal,
        names: Sequence[str],
        *,
        fields: Sequence[VaultField] = (),
        config: SecretSourceConfig | None = None,
        remembered: str | None = None,
        remember_as: str | None = None,
        consumers: frozenset[Consumer] = frozenset(),
        ttl_seconds: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> list[ImportResult]:
        """Read ``names`` and Vault ``fields`` from a provider (given ``config``, or a ``remembered`` one)
        and seal each value.

        A name is stored under the same name, a field under its ``name`` (a new version when it exists
        already, keeping its consumers unless ``consumers`` is given).
        """
        principal.require(SECRETS_WRITE)
        tenant = principal.tenant_id
        if (config is None) == (remembered is None):
            raise InvalidInput("give either a provider configuration or the name of a remembered source")
        items = import_plan(names, fields)
        if config is None:
            assert remembered is not None
            config = await self._remembered(principal, remembered)
        provider = provider_of(config)
        if fields and provider != "vault":
            raise InvalidInput(f"fields: single fields are read from Vault only, not from {provider}")
        # checks the configuration (tenant credentials, SSRF guard: resolves host names) off the loop,
        # before anything is remembered
        source = await asyncio.to_thread(self._sources, config)
        if remember_as is not None and remembered is None:
            try:
                await self._remember(principal, remember_as, config, meta)
            except BaseException:
                await source.aclose()
                raise
        results: list[ImportResult] = []
        try:
            for item in items:
                results.append(
                    await self._import_one(principal, source, provider, item, consumers, ttl_seconds, meta)
                )
        finally:
            await source.aclose()
        imported = [r.name for r in results if r.imported]
        details = {"provider": provider, "imported": " ".join(imported), "requested": str(len(items))}
        await self._record(
            tenant, principal.actor, SecretActions.IMPORT, remembered or provider, meta, details
        )
        return results

    async def _import_one(
        self,
        principal: Principal,
        source: SecretSource,
        provider: str,
        item: ImportItem,
        consumers: frozenset[Consumer],
        ttl_seconds: int | None,
        meta: RequestMeta,
    ) -> ImportResult:
        name = item.name
        try:
            fetched = await source.fetch(item.source_name)
        except SecretSourceError as exc:
            return ImportResult(name, False, error=exc.code, detail=str(exc))
        async with self._uow(principal.tenant_id) as uow:
            existing = await uow.secrets.get(principal.tenant_id, name)
        chosen = consumers or (existing.consumers if existing else frozenset())
        hosts = existing.allowed_hosts if existing else ()
        secret = await self._write(
            principal, name, fetched.value, existing, chosen, ttl_seconds, provider, meta, hosts
        )
        return ImportResult(name, True, version=secret.current_version)

    async def _remember(
        self, principal: Principal, name: str, config: SecretSourceConfig, meta: RequestMeta
    ) -> None:
        tenant = principal.tenant_id
        sealed = await self._enclave().seal(tenant, source_seal_label(name), encode_config(config).reveal())
        provider = provider_of(config)
        async with self._uow(tenant) as uow:
            if await uow.secret_sources.get(tenant, name) is not None:
                raise Conflict(f"a source named {name!r} is remembered already")
            await uow.secret_sources.put(RememberedSource(tenant, name, provider, sealed, self._clock.now()))
            await uow.commit()
        details = {"provider": provider, "remembered": "true"}
        await self._record(tenant, principal.actor, SecretActions.WRITE, f"source:{name}", meta, details)

    async def _remembered(self, principal: Principal, name: str) -> SecretSourceConfig:
        tenant = principal.tenant_id
        async with self._uow(tenant) as uow:
            stored = await uow.secret_sources.get(tenant, check_secret_name(name))
        if stored is None:
            raise SourceNotFound(f"no remembered source {name!r} in this tenant")
        enclave = self._enclave().with_credential(principal.credential)  # an enforcing tenant needs it
        plaintext = await enclave.unseal(tenant, source_seal_label(name), stored.sealed_config)
        return decode_config(Secret(plaintext))

    async def remembered_sources(self, principal: Principal) -> list[RememberedSource]:
        principal.require(SECRETS_READ)
        async with self._uow(principal.tenant_id) as uow:
            return await uow.secret_sources.for_tenant(principal.tenant_id)

    async def _record(
        self,
        tenant_id: TenantId,
        actor: str,
        action: str,
        name: str,
        meta: RequestMeta,
        details: dict[str, str],
        outcome: Outcome = Outcome.SUCCESS,
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                outcome=outcome,
                target=f"secret:{name}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )


def _names(consumers: frozenset[Consumer]) -> str:
    return " ".join(sorted(c.value for c in consumers))
