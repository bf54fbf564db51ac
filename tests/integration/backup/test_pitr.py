"""Point-in-time recovery with the scripts in deploy/pitr, on a throwaway PostgreSQL cluster.

initdb + pg_ctl in a temp dir (Unix socket only, on a free port), WAL archiving to a temp directory
through ``archive_wal.sh``, a base backup through ``base_backup.sh``, then ``restore_pitr.sh`` into a
new data directory to a time between two batches of inserts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("NSL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SCRIPTS = Path(__file__).resolve().parents[3] / "deploy" / "pitr"

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or shutil.which("pg_basebackup") is None,
    reason="PostgreSQL server binaries not installed",
)


def _server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run server-side programs as ``postgres``."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary directory the server user can use (pytest's workdir is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nsl-pitr-"))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, data: Path, sockets: Path, port: int) -> None:
        self.data, self.sockets, self.port = data, sockets, port

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PGHOST": str(self.sockets), "PGPORT": str(self.port), "PGUSER": "postgres"}

    def ctl(self, *args: str) -> None:
        log = str(self.data.parent / f"{self.data.name}.log")
        subprocess.run(
            _server_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", *args]),
            check=True,
            capture_output=True,
            env=self.env,
            timeout=60,
        )

    def sql(self, query: str) -> str:
        done = subprocess.run(
            ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", query],
            check=True,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return done.stdout.strip()


@pytest.fixture
def primary(workdir: Path) -> Iterator[Cluster]:
    data, sockets, archive = workdir / "primary", workdir / "sock", workdir / "archive"
    subprocess.run(_server_user(["mkdir", str(sockets)]), check=True)
    subprocess.run(
        _server_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=60,
    )
    settings = (
        f"listen_addresses = ''\nunix_socket_directories = '{sockets}'\nport = {_free_port()}\n"
        "wal_level = replica\narchive_mode = on\nfsync = off\nmax_wal_senders = 4\n"
        f"archive_command = '{SCRIPTS / 'archive_wal.sh'} %p %f {archive}'\n"
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(settings)
    port = int((data / "postgresql.conf").read_text().rsplit("port = ", 1)[1].split("\n", 1)[0])
    cluster = Cluster(data, sockets, port)
    cluster.ctl("start")
    try:
        yield cluster
    finally:
        cluster.ctl("stop", "-m", "immediate")


def test_point_in_time_recovery(primary: Cluster, workdir: Path) -> None:
    started = time.perf_counter()
    primary.sql("CREATE TABLE drill (id int PRIMARY KEY, note text)")
    base = (
        subprocess.run(
            _server_user([str(SCRIPTS / "base_backup.sh"), str(workdir / "base")]),
            check=True,
            capture_output=True,
            text=True,
            env=primary.env,
            timeout=60,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    primary.sql("INSERT INTO drill SELECT g, 'before' FROM generate_series(1, 100) g")
    target = primary.sql("SELECT clock_timestamp()")
    primary.sql("INSERT INTO drill SELECT g, 'after' FROM generate_series(101, 150) g")
    segment = primary.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")
    primary.sql("SELECT pg_switch_wal()")
    for _ in range(200):
        if (workdir / "archive" / segment).exists():
            break
        time.sleep(0.05)
    assert (workdir / "archive" / segment).exists(), "WAL segment was not archived"

    restored_dir = workdir / "restored"
    subprocess.run(
        _server_user(
            [str(SCRIPTS / "restore_pitr.sh"), base, str(restored_dir), str(workdir / "archive"), target]
        ),
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        _server_user(["sh", "-c", f"echo 'port = {_free_port()}' >> {restored_dir / 'postgresql.conf'}"]),
        check=True,
    )
    port = int((restored_dir / "postgresql.conf").read_text().rsplit("port = ", 1)[1].split("\n", 1)[0])
    restored = Cluster(restored_dir, primary.sockets, port)
    restored.ctl("start")
    try:
        for _ in range(200):
            if restored.sql("SELECT pg_is_in_recovery()") == "f":
                break
            time.sleep(0.05)
        assert restored.sql("SELECT count(*), min(note), max(note) FROM drill") == "100|before|before"
    finally:
        restored.ctl("stop", "-m", "fast")
    print(f"\n[pitr] base backup, 150 rows, recovery to {target}: {time.perf_counter() - started:.2f} s")
