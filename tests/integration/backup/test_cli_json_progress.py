"""``--json`` on the ``nsl backup`` commands and ``nsl dr plan``, and the progress the backup use cases
report: growing byte counts that end on the archive's size, drawn only on a terminal."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from neo_service_layer.kernel import cli_output
from neo_service_layer.kernel.config import Settings, load_settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.cli.backup import backup_app, dr_app

app = typer.Typer()
app.add_typer(backup_app, name="backup")
app.add_typer(dr_app, name="dr")
ESCAPE = "\x1b["


async def _database(settings: Settings, heartbeats: int) -> None:
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
        now = datetime.now(UTC)
        for i in range(heartbeats):
            await record_heartbeat(
                engine, worker_id=f"w{i}", hostname="h" * 200, pid=i, started_at=now, now=now
            )
    finally:
        await engine.dispose()


@pytest.fixture
def env(tmp_path: Path, backup_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NSL_ENV", "test")
    monkeypatch.setenv("NSL_BACKUP_KEY", backup_key)
    monkeypatch.setenv("NSL_BACKUP_DIR", str(tmp_path / "backups"))
    asyncio.run(_database(load_settings(), 3))
    return tmp_path / "backups"


def _json(args: list[str], code: int = 0) -> object:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    assert ESCAPE not in result.stdout + result.stderr  # stdout is the document alone, no markup
    return json.loads(result.stdout)


def test_every_backup_command_prints_one_json_document(env: Path) -> None:
    created = _json(["backup", "create", "--json"])
    assert isinstance(created, dict)
    archive = env / f"{created['backup_id']}.nslbak"
    assert created["size"] == archive.stat().st_size
    assert created["dialect"] == "sqlite"
    assert created["rows"] >= 3
    assert created["tables"] > 10
    assert created["parts"][0]["name"]
    assert len(created["parts"][0]["sha256"]) == 64
    assert "pruned" not in created

    [listed] = _json(["backup", "list", "--json"])  # type: ignore[misc]
    assert (listed["backup_id"], listed["size"], listed["verified_at"]) == (
        created["backup_id"],
        created["size"],
        None,
    )

    verified = _json(["backup", "verify", "latest", "--json"])
    assert isinstance(verified, dict)
    assert (verified["backup_id"], verified["ok"], verified["size"]) == (
        created["backup_id"],
        True,
        created["size"],
    )
    assert {"archive", "schema_revision", "row_counts"} <= {c["name"] for c in verified["checks"]}

    restored = _json(["backup", "restore", created["backup_id"], "--force", "--json"])
    assert isinstance(restored, dict)
    assert restored["backup_id"] == created["backup_id"]
    assert restored["rows"] == created["rows"]
    assert "previous database" in restored["previous"]

    pruned = _json(["backup", "prune", "--dry-run", "--json"])
    assert isinstance(pruned, dict)
    assert (pruned["dry_run"], list(pruned["keep"]), pruned["delete"]) == (True, [created["backup_id"]], {})

    second = _json(["backup", "create", "--prune", "--json"])
    assert isinstance(second, dict)
    assert second["pruned"] == []  # the default retention keeps both

    plan = _json(["dr", "plan", "--json"], code=1)  # no enclave or chain here: action is needed
    assert isinstance(plan, dict)
    assert plan["newest_backup"] == second["backup_id"]
    assert plan["actions"]


def test_text_output_ends_with_a_summary_and_no_escape_codes_off_a_terminal(env: Path) -> None:
    """CliRunner's stderr is not a terminal: no progress bar, nothing for a script to strip."""
    result = CliRunner().invoke(app, ["backup", "create"])
    assert result.exit_code == 0, result.output
    assert ESCAPE not in result.stdout + result.stderr
    assert result.stderr == ""
    [archive] = env.glob("*.nslbak")
    assert archive.stem in result.stdout
    assert f"{archive.stat().st_size:,} bytes" in result.stdout
    assert re.search(r"sha256 [0-9a-f]{64}\n", result.stdout)  # whole, on one line, off a terminal too


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_is_drawn_only_on_a_terminal(terminal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    with cli_output.progress("backing up") as report:
        report(10, 100)
        report(100, 100)
    assert (ESCAPE in stderr.getvalue()) is terminal
    assert cli_output.progress_wanted() is terminal
    assert cli_output.progress_wanted(as_json=True) is False


async def test_the_use_cases_report_growing_totals_up_to_the_archive_size(
    make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    settings = make_settings()
    await _database(settings, 400)
    enclave = settings.data_dir / "enclave"  # incompressible sealed state: an archive of several reads
    enclave.mkdir(parents=True)
    (enclave / "revocations.sealed").write_bytes(os.urandom(3 * 1024 * 1024))
    service = build_backup_service(settings, BackupSettings(key=backup_key, dir=tmp_path / "b"))
    calls: dict[str, list[tuple[int, int | None]]] = {"create": [], "verify": [], "restore": []}

    created = await service.create(progress=lambda done, total: calls["create"].append((done, total)))
    await service.verify(created.backup_id, lambda done, total: calls["verify"].append((done, total)))
    await service.restore(
        created.backup_id, force=True, progress=lambda done, total: calls["restore"].append((done, total))
    )

    for name, seen in calls.items():
        done = [d for d, _ in seen]
        assert done == sorted(done), name  # never goes back
        assert len(set(done)) >= 2, name  # and grows
        assert seen[-1] == (created.size, created.size), name
    # reading an archive knows its size from the start; writing one learns it at the end
    assert {total for _, total in calls["verify"]} == {created.size}
    assert {total for _, total in calls["create"][:-1]} == {None}
