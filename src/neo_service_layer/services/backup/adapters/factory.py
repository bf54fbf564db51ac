"""Building the backup service from settings (the backup part of the composition root)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from neo_service_layer import __version__
from neo_service_layer.kernel.clock import Clock, SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import normalise_url
from neo_service_layer.kernel.db.migrate import head_revision
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.adapters.codec import EncryptedArchiveCodec
from neo_service_layer.services.backup.adapters.keys import load_backup_key
from neo_service_layer.services.backup.adapters.postgres import PostgresBackend
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.adapters.sources import ConfigSource, EnclaveStateSource
from neo_service_layer.services.backup.adapters.sqlite import SqliteBackend
from neo_service_layer.services.backup.adapters.targets import (
    BackupTargetError,
    LocalDirectoryTarget,
    S3Target,
)
from neo_service_layer.services.backup.ports import BackupTarget, DatabaseBackend, NamedCheck
from neo_service_layer.services.backup.rules.backup import RetentionPolicy
from neo_service_layer.services.backup.use_cases.backup import BackupService


def build_target(backup: BackupSettings, data_dir: Path) -> BackupTarget:
    if backup.target == "s3":
        if not backup.s3_bucket:
            raise BackupTargetError("NSL_BACKUP_TARGET=s3 needs NSL_BACKUP_S3_BUCKET")
        return S3Target(
            backup.s3_bucket,
            backup.s3_prefix,
            endpoint_url=backup.s3_endpoint_url,
            region=backup.s3_region,
            part_size=backup.s3_part_size_mb * 1024 * 1024,
        )
    return LocalDirectoryTarget(backup.local_dir(data_dir))


def build_wal_target(backup: BackupSettings, data_dir: Path) -> BackupTarget:
    """Where ``wal-push`` puts WAL segments: the ``wal/`` area of the backup target."""
    if backup.target == "s3":
        if not backup.s3_bucket:
            raise BackupTargetError("NSL_BACKUP_TARGET=s3 needs NSL_BACKUP_S3_BUCKET")
        return S3Target(
            backup.s3_bucket,
            backup.s3_prefix + "wal/",
            endpoint_url=backup.s3_endpoint_url,
            region=backup.s3_region,
            part_size=backup.s3_part_size_mb * 1024 * 1024,
        )
    return LocalDirectoryTarget(backup.local_dir(data_dir) / "wal")


def build_database(settings: Settings, backup: BackupSettings, clock: Clock) -> DatabaseBackend:
    url = normalise_url(settings.effective_database_url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if not database or database == ":memory:":
            raise BackupTargetError("an in-memory SQLite database cannot be backed up")
        return SqliteBackend(Path(database), clock)
    return PostgresBackend(url, clock, backup.pg_bin_dir)


def configured_key(backup: BackupSettings) -> Secret[bytes]:
    """The backup key from ``NSL_BACKUP_KEY`` or ``NSL_BACKUP_KEY_FILE``."""
    return load_backup_key(backup.key.get_secret_value() if backup.key else None, backup.key_file)


def retention_policy(backup: BackupSettings) -> RetentionPolicy:
    return RetentionPolicy(backup.daily_keep_days, backup.weekly_keep_days)


def build_backup_service(
    settings: Settings,
    backup: BackupSettings,
    *,
    clock: Clock | None = None,
    checks: Sequence[NamedCheck] = (),
    target: BackupTarget | None = None,
) -> BackupService:
    """The backup service for this deployment; raises ``BackupKeyError`` without a usable key."""
    clock = clock or SystemClock()
    key = configured_key(backup)
    lock = None
    if backup.object_lock_mode is not None:
        lock = (backup.object_lock_mode, timedelta(days=backup.object_lock_days))
    return BackupService(
        target=target or build_target(backup, settings.data_dir),
        codec=EncryptedArchiveCodec(key),
        database=build_database(settings, backup, clock),
        clock=clock,
        schema_head=head_revision(),
        source_version=__version__,
        sources=(EnclaveStateSource(settings.data_dir), ConfigSource(settings.masked())),
        checks=checks,
        object_lock=lock,
        staging_dir=backup.staging_dir,
    )
