"""``--json`` on the kernel's commands (``admin``, ``auth``, ``audit``, ``migrate``, ``services``,
``config show``, ``chain down``): stdout is exactly one JSON document with the facts the text form prints."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neo_service_layer.cli import app
from neo_service_layer.kernel.db.migrate import head_revision
from neo_service_layer.registry import SERVICES


@pytest.fixture
def nsl_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NSL_ENV", "development")
    monkeypatch.setenv("NSL_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("NSL_PASSWORD_HASH_MEMORY_KIB", "64")
    monkeypatch.setenv("NSL_PASSWORD_HASH_PARALLELISM", "1")
    monkeypatch.setenv("NSL_LOG_LEVEL", "WARNING")
    return tmp_path / "data"


def _json(args: list[str], *, code: int = 0, input: str | None = None) -> Any:

    result = CliRunner().invoke(app, args, input=input)
    assert result.exit_code == code, result.output
    assert "\x1b[" not in result.stdout
    return json.loads(result.stdout)


def test_account_key_and_audit_commands_print_json(nsl_env: Path) -> None:
    made = _json(
        ["admin", "create-superadmin", "--username", "root", "--password-stdin", "--json"],
        input="root pass phrase, long\n",
    )
    assert (made["username"], made["role"], made["mfa_enrolled"]) == ("root", "superadmin", False)
    with closing(sqlite3.connect(nsl_env / "nsl.db")) as db:
        assert db.execute("SELECT id FROM users WHERE username = 'root'").fetchone() == (made["user_id"],)

    rotated = _json(["auth", "rotate-signing-key", "--json"])
    assert rotated["algorithm"] == "ES256"
    assert rotated["active"] is True
    with closing(sqlite3.connect(nsl_env / "nsl.db")) as db:
        target = db.execute("SELECT target FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    assert target == (f"kid:{rotated['kid']}",)

    disabled = _json(["admin", "disable-user", "--username", "root", "--json"])
    assert disabled == {"username": "root", "user_id": made["user_id"], "disabled": True}

    verified = _json(["audit", "verify", "--json"])
    [chain] = verified["chains"]
    assert verified["ok"] is True
    assert (chain["tenant_id"], chain["ok"], chain["broken"]) == ("_platform", True, None)
    assert chain["entries"] >= 3

    with closing(sqlite3.connect(nsl_env / "nsl.db")) as db, db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2 AND tenant_id = '_platform'")
    broken = _json(["audit", "verify", "--json"], code=1)
    assert broken["ok"] is False
    assert broken["chains"][0]["broken"]["seq"] == 2


def test_migrate_services_and_config_print_json(nsl_env: Path) -> None:
    migrated = _json(["migrate", "--json"])
    assert migrated["revision"] == head_revision()
    assert migrated["database"].startswith("sqlite")

    listed = _json(["services", "--json"])
    assert [s["name"] for s in listed] == [s.name for s in SERVICES]
    assert all(s["summary"] for s in listed)

    result = CliRunner().invoke(app, ["config", "show", "--json"], env={"NSL_BACKUP_KEY": "a" * 44})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # what production would refuse is in the document instead

    shown = json.loads(result.stdout)
    assert shown["data_dir"] == str(nsl_env)
    assert shown["backup"]["key"] == "********"
    assert "a" * 44 not in result.stdout
    assert any("NSL_TEE_ALLOW_SIMULATION" in p for p in shown["production_would_refuse"])


def test_chain_down_without_a_local_chain_prints_json(nsl_env: Path) -> None:
    assert _json(["chain", "down", "--json"]) == {"chain": False, "was_running": False}
