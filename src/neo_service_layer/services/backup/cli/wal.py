"""``nsl backup wal-push`` / ``wal-fetch``: PostgreSQL ``archive_command`` / ``restore_command``."""

from __future__ import annotations

from pathlib import Path

from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.backup.adapters.factory import build_wal_target, configured_key
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.adapters.wal import fetch_file, push_file


async def push(settings: Settings, backup: BackupSettings, path: Path, name: str | None) -> int:
    """Encrypt ``path`` into the ``wal/`` area of the target; return the stored size."""
    return await push_file(configured_key(backup), build_wal_target(backup, settings.data_dir), path, name)


async def fetch(settings: Settings, backup: BackupSettings, name: str, destination: Path) -> int:
    """Decrypt ``name`` from the ``wal/`` area into ``destination``; return its size."""
    target = build_wal_target(backup, settings.data_dir)
    return await fetch_file(configured_key(backup), target, name, destination)
