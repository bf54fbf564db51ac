"""Backup use cases: create, list, verify, restore and prune, over the ports in ``ports.backup``.

A backup is one encrypted archive ``<id>.nslbak`` in the target; a successful verification adds a
small plain JSON record ``<id>.verified.json`` beside it (no secrets: check names and times).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.backup.ports import (
    ArchiveCodec,
    BackupTarget,
    CheckOutcome,
    DatabaseBackend,
    NamedCheck,
    PartSource,
    Progress,
    RestoredDatabase,
    Retention,
)
from neo_service_layer.services.backup.rules.backup import (
    BackupCorrupted,
    BackupError,
    BackupNotFound,
    BackupRecord,
    DatabaseNotEmpty,
    Manifest,
    ManifestPart,
    RetentionDecision,
    RetentionPolicy,
    apply_retention,
    backup_time,
    check_backup_id,
    creation_order,
    new_backup_id,
)

ARCHIVE_SUFFIX = ".nslbak"
VERIFIED_SUFFIX = ".verified.json"
HEADER_PREFIX_BYTES = 64 * 1024

#: said in every manifest, so that whoever restores knows what is not inside
STANDARD_NOTES = (
    "The enclave sealing secret (simulation: <data_dir>/enclave/sealing.secret; SGX: derived from "
    "MRENCLAVE) and the simulated platform key are never in a backup; see docs/dr.md, key recovery.",
    "Redis is not backed up: it holds only rate-limit counters, which may be lost.",
    "Chain cursors and sealed key blobs live in database tables and are in the database dump.",
)


@dataclass(frozen=True, slots=True)
class BackupSummary:
    backup_id: str
    created_at: datetime
    size: int
    verified_at: datetime | None = None
    restore_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    backup_id: str
    manifest: Manifest
    size: int
    seconds: float


@dataclass(frozen=True, slots=True)
class VerifyReport:
    backup_id: str
    checks: Sequence[CheckOutcome]
    seconds: float
    verified_at: datetime

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    backup_id: str
    manifest: Manifest
    checks: Sequence[CheckOutcome]
    previous: str
    installed_files: Sequence[str]
    seconds: float


@dataclass
class BackupService:
    """The backup use cases. ``schema_head`` is the newest migration this code knows."""

    target: BackupTarget
    codec: ArchiveCodec
    database: DatabaseBackend
    clock: Clock
    schema_head: str
    source_version: str
    sources: Sequence[PartSource] = ()
    checks: Sequence[NamedCheck] = ()
    object_lock: tuple[str, timedelta] | None = None
    staging_dir: Path | None = None
    _notes: Sequence[str] = field(default=STANDARD_NOTES)

    async def create(self, progress: Progress | None = None) -> CreateResult:
        """Snapshot the database and the extra sources, then stream one encrypted archive out."""
        started = time.perf_counter()
        created_at = self.clock.now()
        backup_id = new_backup_id(created_at)
        with tempfile.TemporaryDirectory(prefix="nsl-backup-", dir=self.staging_dir) as tmp:
            staging = Path(tmp)
            snapshot = await self.database.snapshot(staging)
            names = [snapshot.part_name]
            for source in self.sources:
                names.extend(await source.stage(staging))
            parts = [(name, staging / name) for name in names]
            manifest = Manifest(
                backup_id=backup_id,
                created_at=created_at,
                source_version=self.source_version,
                schema_revision=snapshot.schema_revision,
                dialect=self.database.dialect,
                row_counts=dict(snapshot.row_counts),
                parts=tuple([await asyncio.to_thread(_describe, name, path) for name, path in parts]),
                notes=tuple(self._notes),
            )
            retention = None
            if self.object_lock is not None:
                retention = Retention(self.object_lock[0], created_at + self.object_lock[1])
            counted = _Counting(progress, None)  # the encrypted size is known once written
            size = await self.target.put(
                backup_id + ARCHIVE_SUFFIX, counted.count(self.codec.write(manifest, parts)), retention
            )
            counted.finish()
        return CreateResult(backup_id, manifest, size, time.perf_counter() - started)

    async def list_backups(self) -> list[BackupSummary]:
        """Backups in the target, oldest first, with their last successful verification."""
        objects = await self.target.list_objects("nsl-")
        records = {o.name: o for o in objects}
        summaries: list[BackupSummary] = []
        for name, stored in records.items():
            if not name.endswith(ARCHIVE_SUFFIX):
                continue
            backup_id = name.removesuffix(ARCHIVE_SUFFIX)
            try:
                created_at = backup_time(backup_id)
            except BackupError:
                continue
            verified_at, restore_seconds = None, None
            if backup_id + VERIFIED_SUFFIX in records:
                verified_at, restore_seconds = await self._verification(backup_id)
            summaries.append(BackupSummary(backup_id, created_at, stored.size, verified_at, restore_seconds))
        return sorted(summaries, key=creation_order)

    async def newest(self, *, verified: bool = False) -> BackupSummary | None:
        candidates = [s for s in await self.list_backups() if s.verified_at is not None or not verified]
        return candidates[-1] if candidates else None

    async def header(self, backup_id: str) -> dict[str, object]:
        """The public header of an archive (no key needed)."""
        prefix = await self.target.read_prefix(
            check_backup_id(backup_id) + ARCHIVE_SUFFIX, HEADER_PREFIX_BYTES
        )
        return dict(self.codec.public_header(prefix))

    async def verify(self, backup_id: str, progress: Progress | None = None) -> VerifyReport:
        """Decrypt, check every hash, restore into a scratch database and run every check.

        Raises:
            BackupNotFound, BackupKeyMismatch, BackupCorrupted: the archive cannot be read.
        """
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="nsl-verify-", dir=self.staging_dir) as tmp:
            manifest = await self._download(backup_id, Path(tmp), progress)
            async with self.database.restore(Path(tmp) / manifest.parts[0].name, scratch=True) as restored:
                checks = await self._run_checks(restored, manifest)
        seconds = time.perf_counter() - started
        report = VerifyReport(backup_id, checks, seconds, self.clock.now())
        if report.ok:
            record = {
                "backup_id": backup_id,
                "verified_at": report.verified_at.isoformat(),
                "restore_seconds": round(seconds, 3),
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            }
            await self.target.put(backup_id + VERIFIED_SUFFIX, _once(json.dumps(record).encode()))
        return report

    async def restore(
        self, backup_id: str, *, force: bool = False, progress: Progress | None = None
    ) -> RestoreResult:
        """Restore into a new database, check it, then switch the live database over to it.

        Raises:
            DatabaseNotEmpty: the live database holds rows and ``force`` is false.
            BackupCorrupted: the archive or the restored database fails a blocking check.
        """
        started = time.perf_counter()
        if not force and not await self.database.is_empty():
            raise DatabaseNotEmpty("the database holds data; restore over it only with --force")
        with tempfile.TemporaryDirectory(prefix="nsl-restore-", dir=self.staging_dir) as tmp:
            staging = Path(tmp)
            manifest = await self._download(backup_id, staging, progress)
            async with self.database.restore(staging / manifest.parts[0].name, scratch=False) as restored:
                checks = await self._run_checks(restored, manifest)
                advisory = {"migrations_at_head"} | {c.name for c in self.checks if not c.blocking}
                blocking = [c for c in checks if not c.ok and c.name not in advisory]
                if blocking:
                    raise BackupCorrupted(
                        "the restored database failed its checks, the live database is unchanged: "
                        + "; ".join(f"{c.name}: {c.detail}" for c in blocking)
                    )
                previous = await restored.switch_over()
            names = [p.name for p in manifest.parts[1:]]
            installed: list[str] = []
            for source in self.sources:
                installed.extend(await source.install(staging, names))
        return RestoreResult(backup_id, manifest, checks, previous, installed, time.perf_counter() - started)

    async def prune(self, policy: RetentionPolicy, *, dry_run: bool = False) -> RetentionDecision:
        """Apply the retention policy; the newest verified backup is never deleted."""
        records = [
            BackupRecord(s.backup_id, s.created_at, s.size, s.verified_at) for s in await self.list_backups()
        ]
        decision = apply_retention(records, self.clock.now(), policy)
        if not dry_run:
            for backup_id in decision.delete:
                await self.target.delete(backup_id + VERIFIED_SUFFIX)
                await self.target.delete(backup_id + ARCHIVE_SUFFIX)
        return decision

    async def _download(self, backup_id: str, directory: Path, progress: Progress | None) -> Manifest:
        name = check_backup_id(backup_id) + ARCHIVE_SUFFIX
        total = None
        if progress is not None:
            total = next((o.size for o in await self.target.list_objects(name) if o.name == name), None)
        counted = _Counting(progress, total)
        manifest = await self.codec.read(counted.count(self.target.get(name)), directory, backup_id)
        counted.finish()
        if manifest.dialect != self.database.dialect:
            raise BackupError(
                f"backup {backup_id} holds a {manifest.dialect} database; this service uses "
                f"{self.database.dialect} (restoring across engines is not supported)"
            )
        return manifest

    async def _run_checks(self, restored: RestoredDatabase, manifest: Manifest) -> list[CheckOutcome]:
        outcomes = [CheckOutcome("archive", True, f"{len(manifest.parts)} parts match their SHA-256")]
        revision = await restored.schema_revision()
        outcomes.append(
            CheckOutcome(
                "schema_revision",
                revision == manifest.schema_revision,
                f"restored {revision}, manifest {manifest.schema_revision}",
            )
        )
        outcomes.append(
            CheckOutcome(
                "migrations_at_head", revision == self.schema_head, f"{revision} (head {self.schema_head})"
            )
        )
        counts = await restored.row_counts()
        differing = sorted(
            name
            for name in set(counts) | set(manifest.row_counts)
            if counts.get(name) != manifest.row_counts.get(name)
        )
        detail = f"{len(counts)} tables, {sum(counts.values())} rows"
        if differing:
            detail = "differ: " + ", ".join(
                f"{n} restored {counts.get(n)} manifest {manifest.row_counts.get(n)}" for n in differing
            )
        outcomes.append(CheckOutcome("row_counts", not differing, detail))
        for check in self.checks:
            try:
                outcomes.append(await check.run(restored, manifest))
            except Exception as exc:  # a failing check is a result, not a crash of verification
                outcomes.append(CheckOutcome(check.name, False, f"check raised {type(exc).__name__}"))
        return outcomes

    async def _verification(self, backup_id: str) -> tuple[datetime | None, float | None]:
        try:
            raw = b"".join([piece async for piece in self.target.get(backup_id + VERIFIED_SUFFIX)])
            body = json.loads(raw)
            return datetime.fromisoformat(body["verified_at"]), float(body["restore_seconds"])
        except (BackupNotFound, ValueError, KeyError, TypeError):
            return None, None


def _describe(name: str, path: Path) -> ManifestPart:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return ManifestPart(name, size, digest.hexdigest())


class _Counting:
    """Tells ``progress`` the bytes streamed so far; ``finish`` reports the final total."""

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self.progress, self.total, self.done = progress, total, 0

    async def count(self, stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for piece in stream:
            self.done += len(piece)
            if self.progress is not None and piece:
                self.progress(self.done, self.total)
            yield piece

    def finish(self) -> None:
        if self.progress is not None and (self.total != self.done or self.done == 0):
            self.progress(self.done, self.done)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
