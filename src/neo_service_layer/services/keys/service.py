"""The keys service: tenant keys generated and used inside the enclave, rotation, destruction, migration.

Parts: :class:`KeysParts` (the use cases and the key metrics). The API keeps ``nsl_keys_rotation_due``
current; the worker destroys keys whose destruction grace has passed; ``nsl keys`` rotates and migrates
keys between enclaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import typer

from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.container import Container, OpenContainer
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import KeyMetrics
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.tasks import cancel_and_wait
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.keys import cli
from neo_service_layer.services.keys.adapters.public_keys import PublicKeyOperations
from neo_service_layer.services.keys.adapters.rotation_notices import SqlRotationNotices
from neo_service_layer.services.keys.adapters.unit_of_work import keys_uow_factory
from neo_service_layer.services.keys.parts import KeysParts
from neo_service_layer.services.keys.routes import keys as routes
from neo_service_layer.services.keys.rules import ManagedKey
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN
from neo_service_layer.services.keys.use_cases.keys import KeysService

NAME = "keys"
ROTATION_GAUGE_INTERVAL = timedelta(seconds=60)

log = get_logger("nsl.keys")


@asynccontextmanager
async def open_keys(container: Container) -> AsyncIterator[KeysParts]:
    """The keys use cases; in the API, a background refresh of the rotation-due gauge."""
    keys = KeysService(
        uow=keys_uow_factory(container.engine),
        enclave=lambda: container.enclave,
        audit=container.iam.audit_log,
        clock=container.clock,
        crypto=PublicKeyOperations(),
        max_age=timedelta(days=container.settings.key_max_age_days),
        destruction_grace=timedelta(seconds=container.settings.key_destruction_grace_seconds),
        catalogue=key_catalogue_cache(container),
    )
    parts = KeysParts(keys, KeyMetrics(container.registry))
    if container.role != "api":
        yield parts
        return

    async def refresh() -> None:
        while True:
            try:
                await parts.refresh_rotation_gauge()
            except Exception:
                log.exception("could not count keys due for rotation")
            await asyncio.sleep(ROTATION_GAUGE_INTERVAL.total_seconds())

    task = asyncio.create_task(refresh(), name="nsl-rotation-gauge")
    try:
        yield parts
    finally:
        await cancel_and_wait(task)


def key_catalogue_cache(container: Container) -> Cache[tuple[ManagedKey, ...]] | None:
    """Each tenant's keys as the API shows them (``NSL_KEY_CACHE_*``); ``None`` when switched off."""
    settings = container.settings
    if container.caches is None or not settings.key_cache_enabled:
        return None
    return container.caches.create(
        "key_catalogue", ttl_seconds=settings.key_cache_ttl_seconds, max_entries=settings.key_cache_size
    )


def keys_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Destroy keys whose 7-day destruction grace has passed (enclave first, then the sealed records)."""
    keys = container.parts_of(NAME, KeysParts).keys

    async def destroy() -> None:
        run = await keys.destroy_due()
        if run.destroyed:
            log.info("keys destroyed after their grace period", keys=list(run.destroyed))
        for key_id, reason in run.refused:
            log.warning("the enclave refused to destroy a key", key_id=key_id, reason=reason)

    notices = SqlRotationNotices(container.engine)

    async def announce() -> None:
        """A ``key.rotation_due`` tenant event for each key version past the maximum age, once."""
        now = container.clock.now()
        for key in await keys.rotation_due():
            await notices.announce(key, keys.max_age.days, now)

    interval = timedelta(seconds=container.settings.key_destruction_interval_seconds)
    return [
        PeriodicJob("key-destruction", interval, destroy),
        PeriodicJob("key-rotation-notices", ROTATION_GAUGE_INTERVAL, announce),
    ]


def keys_commands(open_container: OpenContainer) -> Sequence[Command]:
    """``nsl keys``: rotation of due keys, migration between enclaves."""
    keys_app = typer.Typer(no_args_is_help=True, help="Enclave keys: rotation, migration between enclaves.")
    cli.register(keys_app)
    cli.register_rotation(keys_app, open_container)
    return [Command("keys", keys_app)]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Tenant keys in the enclave: create, sign, rotate, destroy, migrate",
    routers=(routes.router,),
    open=open_keys,
    jobs=keys_jobs,
    migrations=Path(__file__).parent / "migrations",
    commands=keys_commands,
    scopes=(
        ScopeGrant(KEYS_SIGN, (Role.DEVELOPER, Role.OPERATOR)),
        ScopeGrant(KEYS_ADMIN, (Role.OPERATOR,)),
        ScopeGrant(KEYS_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
    ),
)
