"""Running ``nsl serve`` as a real process on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    data_dir: Path, env: dict[str, str] | None = None, *, scheme: str = "http", verify: object = True
) -> Iterator[ServerProcess]:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_") or k.startswith("NSL_TEST_")}
    full_env.update(
        {
            "NSL_DATA_DIR": str(data_dir),
            "NSL_HTTP_PORT": str(port),
            "NSL_LOG_FORMAT": "json",
            "NSL_SHUTDOWN_GRACE_SECONDS": "3",
        }
    )
    full_env.update(env or {})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "serve"],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(f"{scheme}://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_up(server, verify)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: ServerProcess, verify: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout  # start-up takes seconds, more on a loaded machine
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            httpx.get(f"{server.base_url}/health/live", timeout=1.0, verify=verify)  # type: ignore[arg-type]
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not come up:\n{server.log()}")
