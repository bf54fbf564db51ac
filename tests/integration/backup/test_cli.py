"""``nsl backup ...`` and ``nsl dr plan`` end to end through typer, on the embedded SQLite database."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from neo_service_layer.kernel.config import load_settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.cli.backup import backup_app, dr_app

app = typer.Typer()
app.add_typer(backup_app, name="backup")
app.add_typer(dr_app, name="dr")


@pytest.fixture
def env(tmp_path: Path, backup_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("NSL_DATA_DIR", str(data))
    monkeypatch.setenv("NSL_ENV", "test")
    monkeypatch.setenv("NSL_BACKUP_KEY", backup_key)
    monkeypatch.setenv("NSL_BACKUP_DIR", str(tmp_path / "backups"))

    async def prepare() -> None:
        engine = create_engine(load_settings())
        try:
            await upgrade_to_head(engine)
            now = datetime.now(UTC)
            await record_heartbeat(engine, worker_id="w1", hostname="h", pid=1, started_at=now, now=now)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    return data


def test_backup_commands(env: Path, backup_key: str) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["backup", "create"])
    assert created.exit_code == 0, created.output
    assert backup_key not in created.output
    listed = runner.invoke(app, ["backup", "list", "--json"])
    [entry] = json.loads(listed.stdout)
    assert entry["verified_at"] is None
    verified = runner.invoke(app, ["backup", "verify", "latest"])
    assert verified.exit_code == 0, verified.output
    assert "row_counts" in verified.output
    assert "verified" in verified.output
    _add_tenant(env, "acme")
    refused = runner.invoke(app, ["backup", "restore", entry["backup_id"]])
    assert refused.exit_code == 1
    assert "--force" in refused.output
    restored = runner.invoke(app, ["backup", "restore", entry["backup_id"], "--force"])
    assert restored.exit_code == 0, restored.output
    pruned = runner.invoke(app, ["backup", "prune", "--dry-run"])
    assert pruned.exit_code == 0
    assert "kept 1" in pruned.output
    missing = runner.invoke(app, ["backup", "verify", "nsl-20200101T000000Z-000000"])
    assert missing.exit_code == 1
    assert "BackupNotFound" in missing.output


def _sql(data: Path, statement: str, *params: object) -> None:
    with closing(sqlite3.connect(data / "nsl.db")) as conn, conn:
        conn.execute(statement, params)


def _add_tenant(data: Path, tenant: str) -> None:
    _sql(
        data,
        "INSERT INTO tenants (id, name, plan, active, created_at) VALUES (?, ?, 'free', 1, ?)",
        tenant,
        tenant,
        datetime.now(UTC).isoformat(),
    )


def _add_platform_key(data: Path, role: str, key_id: str) -> None:
    """What a started service writes: a platform key's sealed record and its role row."""
    now = datetime.now(UTC).isoformat()
    _sql(
        data,
        "INSERT INTO key_sealed_records (key_id, version, sealed, created_at) VALUES (?, 1, ?, ?)",
        key_id,
        b"sealed",
        now,
    )
    _sql(
        data,
        "INSERT INTO chain_service_keys (role, key_id, kind, public_key, created_at) "
        "VALUES (?, ?, 'secp256r1', ?, ?)",
        role,
        key_id,
        b"\x02" * 33,
        now,
    )


def test_a_started_but_unused_database_takes_a_restore_without_force(env: Path) -> None:
    """The DR guide on a new machine where the service already started: the platform's own rows
    (its tenant, heartbeats, platform keys, cursors) are not data a restore would lose."""
    runner = CliRunner()
    assert runner.invoke(app, ["backup", "create"]).exit_code == 0
    [entry] = json.loads(runner.invoke(app, ["backup", "list", "--json"]).stdout)
    _add_platform_key(env, "sender", "k-sender")
    _add_platform_key(env, "oracle", "k-oracle")
    restored = runner.invoke(app, ["backup", "restore", entry["backup_id"]])
    assert restored.exit_code == 0, restored.output
    # a tenant key's sealed record (not a platform role's) is user data again
    _sql(
        env,
        "INSERT INTO key_sealed_records (key_id, version, sealed, created_at) VALUES ('t1', 1, ?, ?)",
        b"sealed",
        datetime.now(UTC).isoformat(),
    )
    refused = runner.invoke(app, ["backup", "restore", entry["backup_id"]])
    assert refused.exit_code == 1
    assert "--force" in refused.output


def test_missing_key_is_a_configuration_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NSL_BACKUP_KEY")
    result = CliRunner().invoke(app, ["backup", "list"])
    assert result.exit_code == 2
    assert "NSL_BACKUP_KEY" in result.output


def test_wal_push_and_fetch(env: Path, tmp_path: Path) -> None:
    segment = tmp_path / "000000010000000000000001"
    segment.write_bytes(b"\x01" * 100_000)
    runner = CliRunner()
    assert runner.invoke(app, ["backup", "wal-push", str(segment)]).exit_code == 0
    again = runner.invoke(app, ["backup", "wal-push", str(segment)])
    assert again.exit_code == 1
    assert "already exists" in again.output
    out = tmp_path / "restored"
    fetched = runner.invoke(app, ["backup", "wal-fetch", segment.name, str(out)])
    assert fetched.exit_code == 0, fetched.output
    assert out.read_bytes() == segment.read_bytes()
    assert runner.invoke(app, ["backup", "wal-fetch", "000000010000000000000009", str(out)]).exit_code == 1
    stored = tmp_path / "backups" / "wal" / f"{segment.name}.enc"
    assert b"\x01" * 64 not in stored.read_bytes()


def test_dr_plan(env: Path) -> None:
    runner = CliRunner()
    assessment = runner.invoke(app, ["dr", "plan", "--non-interactive"])
    assert assessment.exit_code == 1  # no backup yet, no enclave running
    body = json.loads(assessment.stdout)
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["enclave"]["ok"] is False
    assert any("no backup" in action for action in body["actions"])
    _add_tenant(env, "acme")
    assert runner.invoke(app, ["backup", "create"]).exit_code == 0
    # disaster: the database file is gone; the guided restore brings it back
    for path in env.glob("nsl.db*"):
        path.unlink()
    guided = runner.invoke(app, ["dr", "plan"], input="y\n\ny\ny\ny\n")
    assert guided.exit_code == 0, guided.output
    assert "restored" in guided.output
    after = runner.invoke(app, ["dr", "plan", "--non-interactive"])
    body = json.loads(after.stdout)
    assert body["database_empty"] is False
    assert body["rpo_met"] is True
    assert body["newest_verified_backup"] is not None
