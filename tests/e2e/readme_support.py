"""Running ``nsl`` as a user does (the installed script, a clean environment, its own data directory), and
the real enclave process (``nsl enclave``) those commands talk to."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NSL = Path(sys.executable).with_name("nsl")


def user_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The caller's environment without any ``NSL_`` variable, plus this data directory and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(NSL_DATA_DIR=str(data_dir), NSL_LOG_FORMAT="json", **settings)
    return env


def nsl(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``nsl ARGS`` in a subprocess; stdout and stderr captured as text."""
    return subprocess.run(
        [str(NSL), *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def nsl_in_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The same command through typer's runner on the real app: for the variations of a command whose
    subprocess run a test already has (each ``nsl`` start costs seconds of CPU importing the app)."""
    from typer.testing import CliRunner

    from neo_service_layer.cli import app

    result = CliRunner().invoke(app, list(args), env=env)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


@dataclass(frozen=True)
class Enclave:
    """A running ``nsl enclave``: its data directory, socket and each client's token."""

    data_dir: Path
    socket: Path
    tokens: dict[str, str]


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


@contextmanager
def running_enclave(*clients: str) -> Iterator[Enclave]:
    """``nsl enclave`` on a short socket path, knowing one fresh token per client; stopped on exit."""
    directory = Path(tempfile.mkdtemp(prefix="nsl-readme-"))  # short: Unix socket paths are limited
    enclave = Enclave(directory, directory / "e.sock", {c: secrets.token_urlsafe(32) for c in clients})
    env = user_env(
        directory, NSL_ENCLAVE_SOCKET=str(enclave.socket), NSL_ENCLAVE_CLIENTS=json.dumps(enclave.tokens)
    )
    log_path = directory / "enclave.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([str(NSL), "enclave"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _listening(enclave.socket):
            assert process.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the enclave did not start listening"
            time.sleep(0.05)
        yield enclave
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
