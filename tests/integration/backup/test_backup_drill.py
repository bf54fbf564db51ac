"""The disaster-recovery drill: back up, keep writing, lose everything, restore, compare byte for byte.

Runs on SQLite and on PostgreSQL, prints the measured backup size and time, restore time and the
data-loss window (time between the backup's snapshot and the disaster).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.rules.backup import BackupCorrupted
from tests.integration.backup.conftest import dump_tables, fill_every_table

SEALED = b"sealed-blob-" + os.urandom(32)
SIMULATION_SECRET = os.urandom(32)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


async def _heartbeats(settings: Settings, prefix: str, count: int) -> None:
    engine = create_engine(settings)
    now = datetime.now(UTC)
    try:
        for i in range(count):
            await record_heartbeat(
                engine, worker_id=f"{prefix}-{i}", hostname="drill", pid=i, started_at=now, now=now
            )
    finally:
        await engine.dispose()


async def _tenant(settings: Settings, tenant: str) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO tenants (id, name, plan, active, created_at) "
                    "VALUES (:id, :id, 'free', true, CURRENT_TIMESTAMP)"
                ),
                {"id": tenant},
            )
    finally:
        await engine.dispose()


async def _drop_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _write_enclave_state(data_dir: Path) -> None:
    enclave = data_dir / "enclave"
    enclave.mkdir(parents=True)
    (enclave / "sealing.secret").write_bytes(SIMULATION_SECRET)
    (enclave / "platform.key").write_bytes(os.urandom(32))
    (enclave / "revocations.sealed").write_bytes(SEALED)
    (enclave / "platform.pub").write_text("ab" * 32 + "\n")


async def test_drill(
    database_url: str | None,
    make_settings: Callable[..., Settings],
    backup_key: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(database_url=database_url)
    backups = BackupSettings(key=backup_key, dir=tmp_path / "offsite")
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
        written = await fill_every_table(engine)
    finally:
        await engine.dispose()
    await _heartbeats(settings, "before", 50)
    _write_enclave_state(settings.data_dir)
    engine = create_engine(settings)
    try:
        at_backup = await dump_tables(engine)
    finally:
        await engine.dispose()

    service = build_backup_service(settings, backups)
    created = await service.create()
    await _heartbeats(settings, "after", 20)  # the data-loss window: written after the backup

    part_names = {p.name for p in created.manifest.parts}
    assert "enclave/revocations.sealed" in part_names
    assert not any(n.endswith(("sealing.secret", "platform.key")) for n in part_names)
    archive = (tmp_path / "offsite" / f"{created.backup_id}.nslbak").read_bytes()
    assert SEALED not in archive
    assert SIMULATION_SECRET not in archive

    disaster_at = datetime.now(UTC)
    shutil.rmtree(settings.data_dir)
    if database_url is not None:
        await _drop_database(database_url)

    fresh = build_backup_service(
        make_settings(database_url=database_url), BackupSettings(key=backup_key, dir=tmp_path / "offsite")
    )
    restored = await fresh.restore(created.backup_id)
    assert all(c.ok for c in restored.checks), restored.checks

    engine = create_engine(settings)
    try:
        after_restore = await dump_tables(engine)
    finally:
        await engine.dispose()
    assert after_restore == at_backup
    workers = {row[0] for row in after_restore["worker_heartbeats"]}
    assert {f"before-{i}" for i in range(50)} <= workers
    assert not any(w.startswith("after-") for w in workers)
    assert (settings.data_dir / "enclave" / "revocations.sealed").read_bytes() == SEALED
    assert not (settings.data_dir / "enclave" / "sealing.secret").exists()

    window = (disaster_at - created.manifest.created_at).total_seconds()
    filled = sorted(name for name, n in written.items() if n)
    print(
        f"\n[drill {created.manifest.dialect}] tables with rows: {len(filled)} ({', '.join(filled)}); "
        f"backup {created.size} bytes in {created.seconds:.3f} s; restore {restored.seconds:.3f} s; "
        f"data-loss window {window:.3f} s (20 heartbeats written after the backup are gone)"
    )


async def test_restore_refuses_non_empty_database_without_force(
    database_url: str | None, make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url)
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    await _heartbeats(settings, "w", 3)
    service = build_backup_service(settings, BackupSettings(key=backup_key, dir=tmp_path / "b"))
    created = await service.create()
    await _heartbeats(settings, "later", 2)
    # heartbeats and the platform's own tenant are the platform's rows: no data a restore would lose
    assert await service.database.is_empty()
    await _tenant(settings, "acme")
    with pytest.raises(Exception, match="--force"):
        await service.restore(created.backup_id)
    result = await service.restore(created.backup_id, force=True)
    assert "previous database" in result.previous
    engine = create_engine(settings)
    try:
        dump = await dump_tables(engine)
    finally:
        await engine.dispose()
    assert sorted(row[0] for row in dump["worker_heartbeats"]) == ["w-0", "w-1", "w-2"]
    if database_url is not None:
        kept = result.previous.split("renamed ")[1].split(" ")[0]
        await _drop_database(database_url.rpartition("/")[0] + "/" + kept)


async def test_verify_while_writing_is_consistent(
    database_url: str | None, make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    """A backup taken under concurrent writes restores to exactly the counts its manifest states."""
    import asyncio

    settings = make_settings(database_url=database_url)
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    service = build_backup_service(settings, BackupSettings(key=backup_key, dir=tmp_path / "b"))
    writer = asyncio.create_task(_heartbeats(settings, "busy", 150))
    await asyncio.sleep(0.05)
    created = await service.create()
    await writer
    report = await service.verify(created.backup_id)
    assert report.ok, report.checks
    newest = await service.newest(verified=True)
    assert newest is not None
    assert newest.backup_id == created.backup_id


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["header", "manifest", "middle", "last", "truncate", "append", "drop"])
async def test_tampered_or_truncated_backup_is_refused(
    damage: str, make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    import dataclasses

    from neo_service_layer.services.backup.adapters.codec import EncryptedArchiveCodec
    from neo_service_layer.services.backup.adapters.factory import configured_key
    from neo_service_layer.services.backup.adapters.stream_cipher import StreamHeader

    settings = make_settings()
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    await _heartbeats(settings, "w", 20)
    backups = BackupSettings(key=backup_key, dir=tmp_path / "b")
    service = build_backup_service(settings, backups)
    service = dataclasses.replace(
        service, codec=EncryptedArchiveCodec(configured_key(backups), chunk_size=1024)
    )
    created = await service.create()
    path = tmp_path / "b" / f"{created.backup_id}.nslbak"
    header_len = len(StreamHeader.parse(path.read_bytes()[:65536]).raw)
    block = 1024 + 16
    size = path.stat().st_size
    assert (size - header_len) // block >= 3
    changes: dict[str, Any] = {
        "header": lambda: _flip(path, header_len - 10),
        "manifest": lambda: _flip(path, header_len + 40),
        "middle": lambda: _flip(path, header_len + 2 * block + 7),
        "last": lambda: _flip(path, size - 3),
        "truncate": lambda: path.write_bytes(path.read_bytes()[: header_len + 2 * block]),
        "append": lambda: path.write_bytes(path.read_bytes() + b"\0" * 16),
        "drop": lambda: path.write_bytes(
            path.read_bytes()[: header_len + block] + path.read_bytes()[header_len + 2 * block :]
        ),
    }
    changes[damage]()
    with pytest.raises(BackupCorrupted) as refused:
        await service.verify(created.backup_id)
    message = str(refused.value)
    assert "tampered" in message or "truncated" in message or "damaged" in message
    with pytest.raises(BackupCorrupted):
        await service.restore(created.backup_id, force=True)
    assert not any((tmp_path / "b").glob("*.verified.json"))
