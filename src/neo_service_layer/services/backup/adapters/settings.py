"""Backup settings (``NSL_BACKUP_*``). Nothing secret has a default; the key is never logged."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackupSettings(BaseSettings):
    """Where backups go, how they are encrypted, kept and scheduled."""

    model_config = SettingsConfigDict(env_prefix="NSL_BACKUP_", extra="ignore")

    key: SecretStr | None = None
    key_file: Path | None = None
    target: Literal["local", "s3"] = "local"
    dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "nsl-backups/"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_part_size_mb: int = Field(default=8, ge=5, le=5120)
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    object_lock_days: int = Field(default=30, ge=1)
    daily_keep_days: int = Field(default=30, ge=1)
    weekly_keep_days: int = Field(default=90, ge=1)
    schedule_enabled: bool = False
    interval_hours: float = Field(default=24.0, gt=0)
    verify_interval_days: float = Field(default=7.0, gt=0)
    rpo_hours: float = Field(default=25.0, gt=0)
    rto_minutes: float = Field(default=60.0, gt=0)
    staging_dir: Path | None = None
    pg_bin_dir: Path | None = None

    def local_dir(self, data_dir: Path) -> Path:
        """The local target directory (default ``<data_dir>/backups``: fine for development only)."""
        return self.dir or (data_dir / "backups")
