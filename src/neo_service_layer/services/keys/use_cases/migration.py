"""Key recovery across machines: move keys between enclaves with attested key migration.

The old enclave (or a surviving replica) exports its keys to an offer of the new enclave; the new
enclave re-seals them under its own sealing key, and the new sealed records replace the old ones in
the record store. No key is ever in the clear outside an enclave; see
``neo_service_layer.enclave.migration`` for the protocol and ``docs/dr.md`` for its trust assumptions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import KeyId, SealedKey
from neo_service_layer.kernel.enclave_client.ports import KeyMigrationEnclave, MigrationExport

#: key records per bundle (the enclave refuses more than 200)
BATCH = 200

Record = tuple[KeyId, int, bytes]
#: told how far a migration is: key records handled so far, out of the total (the CLI draws a bar)
Progress = Callable[[int, int | None], None]


class RecordStore(Protocol):
    """Where sealed key records come from and where the re-sealed ones go (database or file)."""

    async def all_records(self) -> list[Record]: ...

    async def put_records(self, records: Sequence[SealedKey]) -> None: ...


class NotEnoughOffers(InvalidInput):
    code = "not-enough-migration-offers"


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What moved (new sealed records, already stored) and what the old enclave left out, and why."""

    imported: list[SealedKey] = field(default_factory=list)
    skipped: list[tuple[KeyId, int | None, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "imported": [{"key_id": s.info.key_id, "version": s.info.version} for s in self.imported],
            "skipped": [{"key_id": k, "version": v, "reason": r} for k, v, r in self.skipped],
        }


def batches(records: Sequence[Record]) -> list[list[Record]]:
    return [list(records[i : i + BATCH]) for i in range(0, len(records), BATCH)] or [[]]


async def migrate(
    source: KeyMigrationEnclave,
    target: KeyMigrationEnclave,
    records: RecordStore,
    into: RecordStore,
    progress: Progress | None = None,
) -> MigrationReport:
    """Both enclaves reachable from here: offer, export, import batch by batch, then store."""
    report = MigrationReport()
    found = await records.all_records()
    done = 0
    for batch in batches(found):
        if progress is not None:
            progress(done, len(found))
        offer = await target.migration_offer()
        exported = await source.migration_export(offer, batch)
        report.skipped.extend(exported.skipped)
        report.imported.extend(await target.migration_import(exported.bundle))
        done += len(batch)
    await into.put_records(report.imported)
    if progress is not None:
        progress(done, len(found))
    return report


async def make_offers(target: KeyMigrationEnclave, count: int) -> list[Mapping[str, Any]]:
    """Step 1 of the two-region flow (new side): ``count`` offers, one per bundle to come."""
    if not 1 <= count <= 100:
        raise InvalidInput("between 1 and 100 offers")
    return [await target.migration_offer() for _ in range(count)]


async def export_to_offers(
    source: KeyMigrationEnclave, offers: Sequence[Mapping[str, Any]], records: RecordStore
) -> list[MigrationExport]:
    """Step 2 (old side): one bundle per offer, each with up to ``BATCH`` key records."""
    chunks = batches(await records.all_records())
    if len(chunks) > len(offers):
        raise NotEnoughOffers(
            f"{sum(len(c) for c in chunks)} records need {len(chunks)} offers, got {len(offers)}: "
            f"run 'nsl keys migration-offer --count {len(chunks)}' on the new side"
        )
    return [await source.migration_export(offer, chunk) for offer, chunk in zip(offers, chunks, strict=False)]


async def import_bundles(
    target: KeyMigrationEnclave,
    bundles: Sequence[Mapping[str, Any]],
    into: RecordStore,
    progress: Progress | None = None,
) -> MigrationReport:
    """Step 3 (new side): import every bundle, then store the new sealed records (``progress``: bundles)."""
    report = MigrationReport()
    for done, bundle in enumerate(bundles):
        if progress is not None:
            progress(done, len(bundles))
        report.imported.extend(await target.migration_import(bundle))
    await into.put_records(report.imported)
    if progress is not None:
        progress(len(bundles), len(bundles))
    return report
