"""The enclave as a subprocess, and a record store standing in for the database (integration helpers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.wire.keys import SealedKey


@dataclass
class EnclaveProcess:
    """One enclave process on a short socket path; restartable on the same data directory."""

    data_dir: Path
    socket_path: Path
    token: str = "integration-token-0123456789"
    process: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = (sys.executable, "-m", "neo_service_layer.enclave")
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "enclave.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
        env.update(
            NSL_DATA_DIR=str(self.data_dir),
            NSL_ENCLAVE_SOCKET=str(self.socket_path),
            NSL_ENCLAVE_TOKEN=self.token,
            NSL_ENV="test",
        )
        env.update(extra)
        return env

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env(), stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"enclave exited: {self.log_path.read_text()}")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                time.sleep(0.05)
            else:
                return
            finally:
                probe.close()
        raise RuntimeError("enclave did not start listening")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a crash."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


@dataclass
class PeerEnclave(EnclaveProcess):
    """An enclave process with extra environment (its migration policy)."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def platform_key(self) -> str:
        """The simulated platform public key (hex) of this enclave's data directory."""
        return platform_key(self.data_dir)

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{**self.extra, **extra})


@contextmanager
def running_enclave(prefix: str = "nsl-enc-", **options: object) -> Iterator[PeerEnclave]:
    """An enclave process in a fresh short directory (Unix socket paths are limited), killed and removed
    afterwards; ``options`` are :class:`PeerEnclave`'s (token, extra environment)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    process = PeerEnclave(directory, directory / "e.sock", **options)  # type: ignore[arg-type]
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def platform_key(directory: Path) -> str:
    """Create the simulated platform (as the enclave will find it) and return its public key."""
    return SimulationPlatform(directory).platform_public_key.hex()


def trusting(*keys: str, allowed: Sequence[str] = ()) -> dict[str, str]:
    env = {
        "NSL_MIGRATION_ACCEPT_SIMULATION": "true",
        "NSL_MIGRATION_SIMULATION_PLATFORM_KEYS": json.dumps(list(keys)),
    }
    if allowed:
        env["NSL_MIGRATION_ALLOWED_MEASUREMENTS"] = json.dumps(list(allowed))
    return env


class RecordStore:
    """Stands in for the database table of sealed key records; records every lookup."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], bytes] = {}
        self.lookups: list[tuple[str, int | None]] = []

    def put(self, sealed: SealedKey) -> None:
        self.records[(sealed.info.key_id, sealed.info.version)] = sealed.sealed_record

    async def load(self, key_id: str, version: int | None) -> bytes:
        self.lookups.append((key_id, version))
        if version is None:
            version = max(v for (k, v) in self.records if k == key_id)
        return self.records[(key_id, version)]
