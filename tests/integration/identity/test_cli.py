"""``nsl admin create-superadmin``, ``nsl auth rotate-signing-key`` and ``nsl audit verify``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neo_service_layer.cli import app


@pytest.fixture
def nsl_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NSL_ENV", "development")
    monkeypatch.setenv("NSL_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("NSL_PASSWORD_HASH_MEMORY_KIB", "64")
    monkeypatch.setenv("NSL_PASSWORD_HASH_PARALLELISM", "1")
    monkeypatch.setenv("NSL_LOG_LEVEL", "WARNING")
    return tmp_path / "data"


def test_bootstrap_rotate_and_verify(nsl_env: Path) -> None:
    runner = CliRunner()
    weak = runner.invoke(
        app, ["admin", "create-superadmin", "--username", "root", "--password-stdin"], input="short\n"
    )
    assert weak.exit_code == 1
    assert "at least 12" in weak.output
    made = runner.invoke(
        app,
        ["admin", "create-superadmin", "--username", "root", "--password-stdin"],
        input="root pass phrase, long\n",
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        app,
        ["admin", "create-superadmin", "--username", "root", "--password-stdin"],
        input="root pass phrase, long\n",
    )
    assert again.exit_code == 1
    assert "exists already" in again.output
    prompted = runner.invoke(
        app,
        ["admin", "create-superadmin", "--username", "ops"],
        input="ops pass phrase, long\nops pass phrase, long\n",
    )
    assert prompted.exit_code == 0, prompted.output
    rotated = runner.invoke(app, ["auth", "rotate-signing-key"])
    assert rotated.exit_code == 0, rotated.output
    assert "is active" in rotated.output
    # the KEK was generated for development, readable by the owner only
    assert ((nsl_env / "secrets" / "jwt.kek").stat().st_mode & 0o777) == 0o600
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "_platform\t3 entries\tok" in verified.output

    with closing(sqlite3.connect(nsl_env / "nsl.db")) as db, db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2 AND tenant_id = '_platform'")
        stored = db.execute("SELECT password_hash FROM users").fetchall()
    assert all(h.startswith("$argon2id$") for (h,) in stored)
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "entry 2" in broken.output


def test_disable_user_from_the_command_line(nsl_env: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["admin", "create-superadmin", "--username", "ops", "--password-stdin"],
        input="ops pass phrase, long\n",
    )
    assert made.exit_code == 0, made.output
    unknown = runner.invoke(app, ["admin", "disable-user", "--username", "nobody"])
    assert unknown.exit_code == 1
    assert "no such user" in unknown.output
    disabled = runner.invoke(app, ["admin", "disable-user", "--username", "ops"])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in disabled.output
    with closing(sqlite3.connect(nsl_env / "nsl.db")) as db, db:
        (flag,) = db.execute("SELECT disabled FROM users WHERE username = 'ops'").fetchone()
        actions = [a for (a,) in db.execute("SELECT action FROM audit_events WHERE tenant_id = '_platform'")]
    assert flag == 1
    assert "user.disable" in actions
