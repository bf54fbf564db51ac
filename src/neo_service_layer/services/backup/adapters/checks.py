"""Restore checks of other areas, run on every restored backup (``verify`` and ``restore``).

- ``audit_chain``: every tenant's audit hash chain in the restored database verifies
  (``SqlAuditLog.verify``), and each chain head matches its last entry.
- ``sealed_keys_unseal``: the running enclave loads every row of ``key_sealed_records`` of the restored
  database. Without a configured enclave it says ``skipped (no enclave)``. It does not block a restore:
  on a new machine the records of the old enclave cannot unseal until the keys are migrated
  (``nsl keys migrate``), and the check says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from neo_service_layer.enclave.wire.keys import KeyDisabled, KeyId, KeyInfo, SealedDataInvalid
from neo_service_layer.kernel.clock import Clock, SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import normalise_url
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.enclave_client.sealed_records import key_sealed_records
from neo_service_layer.kernel.identity.adapters.audit_store import SqlAuditLog
from neo_service_layer.kernel.identity.adapters.tables import audit_chain_heads
from neo_service_layer.services.backup.ports import CheckOutcome, NamedCheck, RestoredDatabase
from neo_service_layer.services.backup.rules.backup import Manifest
from neo_service_layer.services.keys.api import KeyState, managed_keys

AUDIT_CHAIN = "audit_chain"
SEALED_KEYS = "sealed_keys_unseal"
_LISTED = 5


class RecordLoader(Protocol):
    """The part of the enclave client this check uses."""

    async def load_key(self, key_id: KeyId, sealed_record: bytes) -> KeyInfo: ...

    async def close(self) -> None: ...


def _engine(restored: RestoredDatabase) -> AsyncEngine:
    return create_async_engine(normalise_url(restored.url), poolclass=NullPool)


def _listed(items: Sequence[str]) -> str:
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


async def audit_chains_verify(engine: AsyncEngine, clock: Clock) -> CheckOutcome:
    """Verify every audit chain (each tenant, and each chain that has a head) of ``engine``'s database."""
    log = SqlAuditLog(engine, clock)
    async with engine.connect() as conn:
        heads = set((await conn.execute(select(audit_chain_heads.c.tenant_id))).scalars())
    chains = sorted(set(await log.chains()) | heads)
    entries, broken = 0, []
    for tenant_id in chains:
        count, fault = await log.verify(tenant_id)
        entries += count
        if fault is not None:
            broken.append(f"{tenant_id} at seq {fault.seq}: {fault.reason}")
    if broken:
        return CheckOutcome(AUDIT_CHAIN, False, "broken: " + "; ".join(broken))
    return CheckOutcome(AUDIT_CHAIN, True, f"{len(chains)} chains, {entries} entries verify")


async def sealed_records_unseal(engine: AsyncEngine, enclave: RecordLoader) -> CheckOutcome:
    """Ask the enclave to load every sealed key record of ``engine``'s database."""
    statement = (
        select(key_sealed_records.c.key_id, key_sealed_records.c.version, key_sealed_records.c.sealed)
        .select_from(
            key_sealed_records.outerjoin(managed_keys, managed_keys.c.key_id == key_sealed_records.c.key_id)
        )
        .add_columns(managed_keys.c.status)
        .order_by(key_sealed_records.c.key_id, key_sealed_records.c.version)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(statement)).all()
    loaded, revoked = 0, 0
    inactive: list[str] = []
    failed: list[str] = []
    for row in rows:
        name = f"{row.key_id} v{row.version}"
        try:
            await enclave.load_key(row.key_id, bytes(row.sealed))
        except KeyDisabled:
            revoked += 1  # destroyed in this enclave after the backup: refusing it is right
        except SealedDataInvalid:
            usable = row.status in (KeyState.ACTIVE.value, KeyState.PENDING_DESTRUCTION.value)
            (failed if usable else inactive).append(name)
        except EnclaveUnavailable as exc:
            return CheckOutcome(SEALED_KEYS, False, f"the enclave is unreachable: {exc}")
        else:
            loaded += 1
    detail = f"{loaded} of {len(rows)} sealed key records unseal in the enclave"
    if revoked:
        detail += f"; {revoked} refused as destroyed by this enclave"
    if inactive:
        detail += f"; {len(inactive)} of disabled/destroyed keys do not unseal (not migrated)"
    if failed:
        detail = (
            f"{len(failed)} of {len(rows)} sealed key records do not unseal in this enclave "
            f"({_listed(failed)}): sealed by another enclave? move the keys with 'nsl keys migrate' "
            "(docs/dr.md, key recovery)"
        )
    return CheckOutcome(SEALED_KEYS, not failed, detail)


def audit_chain_check(clock: Clock) -> NamedCheck:
    async def run(restored: RestoredDatabase, manifest: Manifest) -> CheckOutcome:
        engine = _engine(restored)
        try:
            return await audit_chains_verify(engine, clock)
        finally:
            await engine.dispose()

    return NamedCheck(AUDIT_CHAIN, run)


def sealed_keys_check(enclave: Callable[[], RecordLoader] | None) -> NamedCheck:
    """``enclave`` opens a client of the running enclave; ``None``: no enclave is configured."""

    async def run(restored: RestoredDatabase, manifest: Manifest) -> CheckOutcome:
        if enclave is None:
            return CheckOutcome(SEALED_KEYS, True, "skipped (no enclave)")
        client, engine = enclave(), _engine(restored)
        try:
            return await sealed_records_unseal(engine, client)
        finally:
            await client.close()
            await engine.dispose()

    return NamedCheck(SEALED_KEYS, run, blocking=False)


def restore_checks(settings: Settings, clock: Clock | None = None) -> list[NamedCheck]:
    """The checks the CLI and the worker hand to the backup service."""
    configured = settings.enclave_token is not None and bool(settings.enclave_token.get_secret_value())

    def client() -> RecordLoader:
        return EnclaveClient.from_settings(settings)

    return [audit_chain_check(clock or SystemClock()), sealed_keys_check(client if configured else None)]
