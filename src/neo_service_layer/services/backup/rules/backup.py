"""Backups as data: identifiers, the manifest inside each archive, and the retention rule.

Standard library only. The archive format and its encryption live in ``adapters.backup``; the use
cases (create, verify, restore, prune) in ``services.backup``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from neo_service_layer.enclave.wire.errors import DomainError, InvalidInput, NotFound

MANIFEST_FORMAT = 1
_ID = re.compile(r"^nsl-\d{8}T\d{6}Z-[0-9a-f]{6}$")


class BackupError(DomainError):
    """A backup could not be made, read, checked or restored; the message says why."""

    code = "backup-error"


class BackupCorrupted(BackupError):
    """The archive is truncated, reordered, tampered with, or does not match its manifest."""

    code = "backup-corrupted"


class BackupKeyMismatch(BackupError):
    """The archive was encrypted under a different backup key."""

    code = "backup-key-mismatch"


class BackupNotFound(BackupError, NotFound):
    code = "backup-not-found"


class DatabaseNotEmpty(BackupError):
    """Restoring would overwrite a database that holds rows; ``--force`` allows it."""

    code = "database-not-empty"


class InvalidBackupId(BackupError, InvalidInput):
    code = "invalid-backup-id"


#: tables the platform fills by itself when it migrates and starts: no tenant's data is in them
PLATFORM_TABLES = frozenset({"alembic_version", "worker_heartbeats", "chain_cursors", "chain_service_keys"})


def holds_user_data(counts: Mapping[str, int], platform_rows: Mapping[str, int]) -> bool:
    """Whether a database holds rows a restore would destroy: rows outside ``PLATFORM_TABLES`` beyond
    those the platform wrote itself (``platform_rows``: the platform tenant's row in ``tenants``, the
    sealed records of the platform's own keys), so a freshly migrated and started database is empty."""
    return any(
        count > platform_rows.get(table, 0) for table, count in counts.items() if table not in PLATFORM_TABLES
    )


def new_backup_id(created_at: datetime, suffix: str | None = None) -> str:
    """``nsl-<UTC time>-<6 hex>``: the milliseconds in 3 hex digits, then 3 random ones.

    The milliseconds make two backups of one second sort in the order they were made, so "newest" is
    never a coin toss; the random half keeps concurrent creators apart (the file target also refuses
    to overwrite an archive). The format is unchanged, so older ids (6 random digits) still parse.
    """
    at = created_at.astimezone(UTC)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    return f"nsl-{stamp}-{suffix or f'{at.microsecond // 1000:03x}{secrets.token_hex(2)[:3]}'}"


class _Dated(Protocol):
    @property
    def backup_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def creation_order(backup: _Dated) -> tuple[datetime, str]:
    """Sort key, oldest first: the time in the id, then the id (milliseconds within a second)."""
    return backup.created_at, backup.backup_id


def check_backup_id(backup_id: str) -> str:
    """Return ``backup_id`` if well formed (it becomes part of object names), else raise."""
    if not _ID.match(backup_id):
        raise InvalidBackupId(
            f"{backup_id!r} is not a backup id (nsl-, UTC time, 6 hex digits: nsl-20261123T120000Z-a1b2c3)"
        )
    return backup_id


def backup_time(backup_id: str) -> datetime:
    """The creation time encoded in a backup id."""
    stamp = check_backup_id(backup_id)[4:20]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ManifestPart:
    """One file inside the archive: its path in the archive, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive holds and where it came from; the first member of every archive."""

    backup_id: str
    created_at: datetime
    source_version: str
    schema_revision: str | None
    dialect: str
    row_counts: Mapping[str, int]
    parts: Sequence[ManifestPart]
    notes: Sequence[str] = field(default_factory=tuple)
    format: int = MANIFEST_FORMAT

    def part(self, name: str) -> ManifestPart:
        for part in self.parts:
            if part.name == name:
                return part
        raise BackupCorrupted(f"the manifest lists no part named {name!r}")

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "format": self.format,
            "backup_id": self.backup_id,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "source_version": self.source_version,
            "schema_revision": self.schema_revision,
            "dialect": self.dialect,
            "row_counts": dict(sorted(self.row_counts.items())),
            "parts": [{"name": p.name, "size": p.size, "sha256": p.sha256} for p in self.parts],
            "notes": list(self.notes),
        }
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body["format"] != MANIFEST_FORMAT:
                raise BackupError(f"manifest format {body['format']} is not supported by this version")
            return cls(
                backup_id=check_backup_id(str(body["backup_id"])),
                created_at=datetime.fromisoformat(body["created_at"]),
                source_version=str(body["source_version"]),
                schema_revision=body["schema_revision"],
                dialect=str(body["dialect"]),
                row_counts={str(k): int(v) for k, v in body["row_counts"].items()},
                parts=tuple(
                    ManifestPart(str(p["name"]), int(p["size"]), str(p["sha256"])) for p in body["parts"]
                ),
                notes=tuple(str(n) for n in body.get("notes", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupCorrupted(f"the manifest is malformed ({type(exc).__name__})") from None


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """A backup as seen in the target: when it was made and when it last passed verification."""

    backup_id: str
    created_at: datetime
    size: int = 0
    verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep every backup for ``daily_days``; then one per ISO week until ``weekly_days``."""

    daily_days: int = 30
    weekly_days: int = 90

    def __post_init__(self) -> None:
        if self.daily_days < 1 or self.weekly_days < self.daily_days:
            raise InvalidInput("retention needs 1 <= daily_days <= weekly_days")


@dataclass(frozen=True, slots=True)
class RetentionDecision:
    """Which backups to keep and which to delete, each with the reason."""

    keep: Mapping[str, str]
    delete: Mapping[str, str]


def apply_retention(
    backups: Sequence[BackupRecord], now: datetime, policy: RetentionPolicy
) -> RetentionDecision:
    """Decide which backups the policy keeps.

    Rules, in order: the newest *verified* backup is always kept; a backup younger than
    ``daily_days`` is kept; a backup younger than ``weekly_days`` is kept when it is the newest
    backup of its ISO week (among all backups); everything else is deleted. Backups dated in the
    future (clock skew) count as age zero.
    """
    newest_per_week: dict[tuple[int, int], BackupRecord] = {}
    for record in backups:
        week = record.created_at.isocalendar()[:2]
        current = newest_per_week.get((week[0], week[1]))
        if current is None or creation_order(record) > creation_order(current):
            newest_per_week[(week[0], week[1])] = record
    verified = [b for b in backups if b.verified_at is not None]
    protected = max(verified, key=creation_order).backup_id if verified else None
    keep: dict[str, str] = {}
    delete: dict[str, str] = {}
    for record in sorted(backups, key=creation_order):
        age = max(now - record.created_at, timedelta(0))
        week_key = record.created_at.isocalendar()[:2]
        if record.backup_id == protected:
            keep[record.backup_id] = "newest verified backup"
        elif age < timedelta(days=policy.daily_days):
            keep[record.backup_id] = f"younger than {policy.daily_days} days"
        elif age < timedelta(days=policy.weekly_days) and (
            newest_per_week[(week_key[0], week_key[1])].backup_id == record.backup_id
        ):
            keep[record.backup_id] = f"weekly backup, younger than {policy.weekly_days} days"
        else:
            delete[record.backup_id] = "outside the retention policy"
    return RetentionDecision(keep=keep, delete=delete)
