"""A private PostgreSQL server for a test that kills it: ``initdb`` into a temporary directory, trust
authentication, listening on a free loopback port only (never the machine's shared server on 5432).
PostgreSQL refuses to run as root: as root, it runs as the ``postgres`` account (``setpriv`` execs, so
the process started is the postmaster itself and SIGKILL reaches it).
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from neo_service_layer.kernel.chain.adapters.privnet import find_free_port


def _as_owner(directory: Path) -> list[str]:
    """The prefix that runs a command as the ``postgres`` account when we are root (and hands it
    ``directory``); nothing otherwise."""
    if os.geteuid() != 0:
        return []
    account = pwd.getpwnam("postgres")
    for path in (directory, *directory.rglob("*")):
        os.chown(path, account.pw_uid, account.pw_gid)
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb`` and ``postgres``, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PgServer:
    """``postgres`` as a child process on ``127.0.0.1:port``; ``kill`` is SIGKILL of the postmaster."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="nsl-pg-"))
        self.data = self.directory / "data"
        self.port = find_free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            subprocess.run(
                [
                    *_as_owner(self.directory),
                    self.bin_dir / "initdb",
                    "-D",
                    self.data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
            )
        deadline = time.monotonic() + timeout
        while True:  # after a SIGKILL the old backends leave within a moment; until then it refuses
            with (self.directory / "postgres.log").open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        *_as_owner(self.directory),
                        self.bin_dir / "postgres",
                        *("-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1"),
                        *("-k", str(self.directory), "-c", "fsync=off", "-c", "max_connections=60"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            while self.process.poll() is None and time.monotonic() < deadline:
                if await self._accepts():
                    return
                await asyncio.sleep(0.05)
            assert time.monotonic() < deadline, self.log()[-2000:]
            await asyncio.sleep(0.2)

    async def _accepts(self) -> bool:
        ready = subprocess.run(
            [
                self.bin_dir / "pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-t",
                "1",
            ],
            capture_output=True,
            check=False,
        )
        return ready.returncode == 0

    def kill(self) -> None:
        """SIGKILL the postmaster: no checkpoint, no goodbye to the clients (they lose their sockets)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def log(self) -> str:
        return (self.directory / "postgres.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
