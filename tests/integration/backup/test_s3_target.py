"""The S3 target against moto in server mode: multipart streaming, object lock, full backup cycle."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.adapters.targets import MIN_PART_SIZE, S3Target
from neo_service_layer.services.backup.ports import Retention
from neo_service_layer.services.backup.rules.backup import BackupNotFound

# moto 5.2 serves no GetObjectRetention; HeadObject reports the lock (x-amz-object-lock-* headers).


def _bucket(endpoint: str, name: str, *, lock: bool) -> None:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)


async def _random(total: int, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        size = min(piece, total - sent)
        sent += size
        yield os.urandom(size)


async def test_multipart_upload_with_object_lock(s3_endpoint: str) -> None:
    _bucket(s3_endpoint, "locked", lock=True)
    target = S3Target("locked", "nsl/", endpoint_url=s3_endpoint, part_size=MIN_PART_SIZE)
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    size = 2 * MIN_PART_SIZE + 12345
    stored = await target.put("big.bin", _random(size), Retention("GOVERNANCE", until))
    assert stored == size
    received = 0
    async for piece in target.get("big.bin"):
        received += len(piece)
    assert received == size
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    head = client.head_object(Bucket="locked", Key="nsl/big.bin")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    small = await target.put("small.bin", _random(10), Retention("COMPLIANCE", until))
    assert small == 10
    assert client.head_object(Bucket="locked", Key="nsl/small.bin")["ObjectLockMode"] == "COMPLIANCE"
    # deleting a locked object only hides it behind a delete marker; the locked version stays
    await target.delete("big.bin")
    assert [o.name for o in await target.list_objects()] == ["small.bin"]
    versions = client.list_object_versions(Bucket="locked", Prefix="nsl/big.bin")["Versions"]
    assert len(versions) == 1
    with pytest.raises(BackupNotFound):
        await target.read_prefix("big.bin", 10)


async def test_backup_cycle_on_s3(
    s3_endpoint: str, make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    _bucket(s3_endpoint, "backups", lock=True)
    settings = make_settings()
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    backup = BackupSettings(
        key=backup_key,
        target="s3",
        s3_bucket="backups",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        object_lock_mode="GOVERNANCE",
        object_lock_days=7,
    )
    service = build_backup_service(settings, backup)
    created = await service.create()
    report = await service.verify(created.backup_id)
    assert report.ok
    [summary] = await service.list_backups()
    assert summary.backup_id == created.backup_id
    assert summary.verified_at is not None
    header = await service.header(created.backup_id)
    assert header["dialect"] == "sqlite"
    assert header["backup_id"] == created.backup_id
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    key = f"nsl-backups/{created.backup_id}.nslbak"
    assert client.head_object(Bucket="backups", Key=key)["ObjectLockMode"] == "GOVERNANCE"
    result = await service.restore(created.backup_id, force=True)
    assert all(c.ok for c in result.checks)
