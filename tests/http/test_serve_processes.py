"""``nsl serve`` in several processes: a listening socket per process on one port, metrics summed over
every process, limits shared through Redis, and no process left behind when the supervisor is killed."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from pydantic import ValidationError

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.server import available_cores
from tests.http.serverproc import running_server


def test_several_processes_need_redis(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValidationError, match="NSL_HTTP_WORKERS > 1 needs NSL_REDIS_URL"):
        make_settings(http_workers=2)


def test_one_process_per_core_only_with_redis(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().effective_http_workers(cores=8) == 1
    with_redis = make_settings(redis_url="redis://127.0.0.1:6379/0")
    assert with_redis.effective_http_workers(cores=8) == 8
    assert make_settings(redis_url="redis://127.0.0.1:6379/0", http_workers=3).effective_http_workers(8) == 3
    assert 1 <= available_cores() <= (os.process_cpu_count() or 1)


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children if _is_api_process(int(child))]


def _is_api_process(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _metrics_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (entry,) = [item for item in environ if item.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    return Path(entry.split(b"=", 1)[1].decode())


def _served_by(metrics_dir: Path, pid: int) -> float:
    """Requests to ``/health/live`` one process counted in its own file."""
    path = metrics_dir / f"counter_{pid}.db"
    if not path.exists():
        return 0.0
    return sum(
        value
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))
        if "nsl_http_requests_total" in key and "/health/live" in key
    )


def _fresh_get(url: str) -> int:
    """One request on its own connection, so the kernel picks the accepting process each time."""
    with httpx.Client(timeout=10.0) as client:
        return client.get(url).status_code


def _listening_ports() -> set[int]:
    """The TCP ports some socket on this machine listens on. Binding the port to find out is not the
    same question: any process's outgoing connection may take a freed port as its own, and then a bind
    fails although nobody listens."""
    ports: set[int] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():  # a kernel without IPv6
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _listening_inodes(port: int) -> set[str]:
    """The sockets listening on ``port``, as their ``/proc/<pid>/fd`` links read (``socket:[inode]``)."""
    inodes = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if table.exists():
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    return inodes


def _holders(port: int) -> list[str]:
    """The processes with a file descriptor on a socket listening on ``port``: pid, state, command."""
    inodes = _listening_inodes(port)
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                pid = fd_dir.parent.name
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
                found.append(f"{pid} {state} {command.decode(errors='replace')}")
        except OSError:
            continue
    return found


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def namespace() -> str:
    return f"nsl:test:{uuid.uuid4().hex}"


def test_two_processes_serve_and_metrics_count_both(tmp_path: Path, redis_url: str, namespace: str) -> None:
    env = {"NSL_HTTP_WORKERS": "2", "NSL_REDIS_URL": redis_url, "NSL_RATE_LIMIT_NAMESPACE": namespace}
    with running_server(tmp_path / "data", env) as server:
        _wait_for(lambda: len(_children(server.process.pid)) == 2, "two API processes")
        pids = _children(server.process.pid)
        metrics_dir = _metrics_dir(pids[0])
        url = f"{server.base_url}/health/live"
        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            while sent < 400 and not all(_served_by(metrics_dir, pid) > 0 for pid in pids):
                assert set(pool.map(_fresh_get, [url] * 16)) == {200}
                sent += 16
        assert all(_served_by(metrics_dir, pid) > 0 for pid in pids), "one process answered everything"
        text = httpx.get(f"{server.base_url}/metrics", timeout=10.0).text
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("nsl_http_requests_total{") and 'route="/health/live"' in line
        )
        # every process's requests, whichever process answered /metrics (+1: running_server's probe)
        assert counted == sent + 1
        assert 'nsl_build_info{role="api"' in text


def _listening_sockets(pid: int, port: int) -> set[str]:
    """The sockets listening on ``port`` that process ``pid`` has a file descriptor on."""
    inodes = _listening_inodes(port)
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in inodes:
            held.add(target)
    return held


def test_each_process_listens_on_a_socket_of_its_own(tmp_path: Path, redis_url: str, namespace: str) -> None:
    env = {"NSL_HTTP_WORKERS": "2", "NSL_REDIS_URL": redis_url, "NSL_RATE_LIMIT_NAMESPACE": namespace}
    with running_server(tmp_path / "data", env) as server:
        _wait_for(lambda: len(_children(server.process.pid)) == 2, "two API processes")
        port = int(server.base_url.rsplit(":", 1)[1])
        pids = _children(server.process.pid)
        _wait_for(lambda: all(_listening_sockets(pid, port) for pid in pids), "both processes to listen")
        first, second = (_listening_sockets(pid, port) for pid in pids)
        # one socket each, not one shared: the kernel spreads connections over them, where with a
        # shared socket the process that wakes first takes every waiting connection
        assert len(first) == len(second) == 1
        assert first != second
        assert not _listening_sockets(server.process.pid, port)  # the supervisor only holds the port
        with socket.socket() as taken, pytest.raises(OSError, match="in use"):
            taken.bind(("127.0.0.1", port))  # and nothing else can listen there meanwhile


def test_a_per_ip_limit_holds_across_the_processes(tmp_path: Path, redis_url: str, namespace: str) -> None:
    env = {
        "NSL_HTTP_WORKERS": "2",
        "NSL_REDIS_URL": redis_url,
        "NSL_RATE_LIMIT_NAMESPACE": namespace,
        "NSL_RATE_LIMITS_PER_IP": '{"general": "5/minute"}',
    }
    with running_server(tmp_path / "data", env) as server:
        _wait_for(lambda: len(_children(server.process.pid)) == 2, "two API processes")
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(_fresh_get, [f"{server.base_url}/api/v1/system/info"] * 12))
        assert codes.count(429) == 7, codes  # five allowed in all, not five per process


def test_killing_the_supervisor_ends_the_api_processes(
    tmp_path: Path, redis_url: str, namespace: str
) -> None:
    env = {"NSL_HTTP_WORKERS": "2", "NSL_REDIS_URL": redis_url, "NSL_RATE_LIMIT_NAMESPACE": namespace}
    with running_server(tmp_path / "data", env) as server:
        _wait_for(lambda: len(_children(server.process.pid)) == 2, "two API processes")
        pids = _children(server.process.pid)
        port = int(server.base_url.rsplit(":", 1)[1])
        assert port in _listening_ports()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        _wait_for(lambda: not any(_alive(pid) for pid in pids), "the API processes to end")
        # nothing holds the listening socket any more. Once in three CI runs it was still listed right
        # after the API processes had ended (cause not found): wait a bounded while, and name the
        # process that holds it if it stays
        deadline = time.monotonic() + 30
        while port in _listening_ports() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert port not in _listening_ports(), f"still listening, held by: {_holders(port)}"
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))
