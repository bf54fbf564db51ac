"""``nsl run``: everything starts, Ctrl-C stops everything, and a killed supervisor leaves no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.http.serverproc import free_port

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate: object, attempts: int = 400, delay: float = 0.05) -> bool:
    for _ in range(attempts):
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(delay)
    return False


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update({"NSL_DATA_DIR": str(tmp_path / "data"), "NSL_HTTP_PORT": str(port), "NSL_LOG_FORMAT": "json"})
    with (tmp_path / "run.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            body = httpx.get(f"{base}/health/ready", timeout=1).json()
        except (httpx.TransportError, ValueError):
            return False
        return bool(body.get("components", {}).get("workers", {}).get("status") == "up")

    assert _wait(ready), (tmp_path / "run.log").read_text()
    return process, base


def test_run_starts_api_and_worker_and_ctrl_c_stops_all(tmp_path: Path) -> None:
    process, base = _start(tmp_path)
    children = _children(process.pid)
    assert len(children) >= 2
    assert httpx.get(f"{base}/api/v1/system/info").json()["schema_current"] is True

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert not [pid for pid in children if _alive(pid)]
    log = (tmp_path / "run.log").read_text()
    assert "Ctrl-C stops everything" in log
    assert f"{base}/docs" in log


def test_killed_supervisor_leaves_no_orphans(tmp_path: Path) -> None:
    process, _ = _start(tmp_path)
    children = _children(process.pid)
    assert children
    process.kill()
    process.wait()
    assert _wait(lambda: not any(_alive(pid) for pid in children)), "children outlived the supervisor"


def test_dead_child_is_restarted(tmp_path: Path) -> None:
    process, base = _start(tmp_path)
    try:
        before = _children(process.pid)
        victim = max(before)  # the API, started last
        os.kill(victim, signal.SIGKILL)
        assert _wait(lambda: len(_children(process.pid) - {victim}) == len(before))
        assert _wait(lambda: _get_ok(f"{base}/health/live"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
