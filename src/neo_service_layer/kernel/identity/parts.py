"""The identity part of the composition root: credential adapters, repositories, limiter, services.

Called by :func:`neo_service_layer.bootstrap.open_container`; every process role gets the same
:class:`Identity`, so the API authenticates and the CLI bootstraps with the same rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.cache.adapters.factory import CacheFactory
from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.adapters.audit_store import SqlAuditLog
from neo_service_layer.kernel.identity.adapters.jwt import Es256Codec
from neo_service_layer.kernel.identity.adapters.passwords import Argon2Hasher
from neo_service_layer.kernel.identity.adapters.rate_limits import LimitsRateLimiter, parse_limit
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.identity.adapters.totp import PyOtpAuthenticator
from neo_service_layer.kernel.identity.adapters.unit_of_work import identity_uow_factory
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.enclave_credentials import EnclaveCredentials
from neo_service_layer.kernel.identity.ports.rate_limits import RateLimiter
from neo_service_layer.kernel.identity.rules.access import ScopeCatalogue
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy
from neo_service_layer.kernel.identity.rules.rate_limits import RateLimitPolicy
from neo_service_layer.kernel.identity.use_cases.api_keys import ApiKeyService
from neo_service_layer.kernel.identity.use_cases.audit import AuditService
from neo_service_layer.kernel.identity.use_cases.auth import AuthService
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.enclave_credentials import EnclaveCredentialSwitch
from neo_service_layer.kernel.identity.use_cases.principal_cache import KeyEntry, PrincipalCaches, TokenEntry
from neo_service_layer.kernel.identity.use_cases.users import IdentityService


@dataclass
class Identity:
    auth: AuthService
    identity: IdentityService
    api_keys: ApiKeyService
    audit: AuditService
    audit_log: AuditLog
    codec: Es256Codec
    rate_limiter: RateLimiter
    rate_limits: RateLimitPolicy
    #: every scope of the installation (the kernel's and the registered services') and who holds which
    scope_catalogue: ScopeCatalogue
    #: a tenant's enclave-checked credentials switch (``None`` enclave: 503)
    enclave_credentials: EnclaveCredentialSwitch
    #: checked credentials in memory (``None``: ``principal_cache_enabled`` is off)
    principal_caches: PrincipalCaches | None = None


def auth_policy(settings: Settings) -> AuthPolicy:
    return AuthPolicy(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        leeway_seconds=settings.jwt_leeway_seconds,
        lockout=LockoutPolicy(
            max_failures=settings.login_max_failures,
            max_delay=timedelta(seconds=settings.login_lockout_seconds),
        ),
        mfa_required_roles=frozenset(settings.mfa_required_roles),
        password_min_length=settings.password_min_length,
        totp_issuer=settings.totp_issuer,
    )


def rate_limit_policy(settings: Settings) -> RateLimitPolicy:
    policy = RateLimitPolicy(
        per_principal=dict(settings.rate_limits),
        per_ip=dict(settings.rate_limits_per_ip),
        plans={plan: dict(groups) for plan, groups in settings.rate_limit_plans.items()},
        enabled=settings.rate_limit_enabled,
    )
    for text in [*policy.per_principal.values(), *policy.per_ip.values()] + [
        limit for groups in policy.plans.values() for limit in groups.values()
    ]:
        parse_limit(text)  # refuse a typo at start-up, not at the first request
    return policy


def principal_caches(settings: Settings, caches: CacheFactory) -> PrincipalCaches | None:
    """The API-key and token caches (``None`` when switched off); see ``kernel/cache/adapters/factory``."""
    if not settings.principal_cache_enabled:
        return None
    ttl, size = settings.principal_cache_ttl_seconds, settings.principal_cache_size
    api_keys: MemoryCache[KeyEntry] = caches.create("api_key", ttl_seconds=ttl, max_entries=size)
    tokens: MemoryCache[TokenEntry] = caches.create("access_token", ttl_seconds=ttl, max_entries=size)
    return PrincipalCaches(api_keys=api_keys, tokens=tokens)


def use_app_role(engine: AsyncEngine, role: str) -> None:
    """Every new PostgreSQL connection of ``engine`` acts as ``role`` (no DDL, subject to RLS)."""
    quoted = '"' + role.replace('"', '""') + '"'

    def set_role(dbapi_connection: Any, _record: object) -> None:
        # On the raw asyncpg connection, outside any transaction: a SET ROLE inside the driver
        # adapter's implicit transaction would be undone by the pool's rollback-on-return.
        dbapi_connection.run_async(lambda raw: raw.execute(f"SET ROLE {quoted}"))

    event.listen(engine.sync_engine, "connect", set_role)


@asynccontextmanager
async def open_identity(
    settings: Settings,
    engine: AsyncEngine,
    clock: Clock,
    catalogue: ScopeCatalogue,
    enclave: EnclaveCredentials | None = None,
    cache_factory: CacheFactory | None = None,
) -> AsyncIterator[Identity]:
    """The identity use cases over their adapters; ``catalogue`` is built by the composition root.

    ``enclave`` issues API keys and checks a tenant's credentials (none: random keys, no switch);
    ``cache_factory`` makes the principal caches (none: nothing cached)."""
    box = AesGcmBox(resolve_kek(settings))
    uow = identity_uow_factory(engine)
    policy = auth_policy(settings)
    audit_log = SqlAuditLog(engine, clock)
    hasher = Argon2Hasher(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    codec = Es256Codec(
        uow=uow,
        box=box,
        clock=clock,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        publish_for=policy.access_ttl + timedelta(seconds=policy.leeway_seconds),
    )
    limits = rate_limit_policy(settings)
    limiter = (
        LimitsRateLimiter.redis(
            settings.redis_url.get_secret_value(),
            namespace=settings.rate_limit_namespace,
            strategy=settings.rate_limit_strategy,
        )
        if settings.redis_url is not None
        else LimitsRateLimiter.in_memory(settings.rate_limit_strategy)
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(limiter.aclose)
        caches = principal_caches(settings, cache_factory) if cache_factory is not None else None
        yield Identity(
            auth=AuthService(
                uow=uow,
                hasher=hasher,
                box=box,
                codec=codec,
                totp=PyOtpAuthenticator(settings.totp_issuer),
                audit=audit_log,
                clock=clock,
                policy=policy,
                catalogue=catalogue,
                caches=caches,
            ),
            identity=IdentityService(
                uow=uow,
                hasher=hasher,
                audit=audit_log,
                clock=clock,
                password_min_length=settings.password_min_length,
                caches=caches,
            ),
            api_keys=ApiKeyService(
                uow=uow,
                box=box,
                audit=audit_log,
                clock=clock,
                catalogue=catalogue,
                enclave=enclave,
                caches=caches,
            ),
            audit=AuditService(audit_log),
            audit_log=audit_log,
            codec=codec,
            rate_limiter=limiter,
            rate_limits=limits,
            scope_catalogue=catalogue,
            enclave_credentials=EnclaveCredentialSwitch(enclave=enclave, audit=audit_log),
            principal_caches=caches,
        )
