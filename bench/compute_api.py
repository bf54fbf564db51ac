"""The API phase of ``bench.compute``: functions uploaded and run through ``/api/v1/compute`` against a
real ``nsl enclave`` and ``nsl serve`` (uvicorn) on loopback, SQLite, rate limiting off.

Per function: the upload (build in the API process for source, compile in the enclave), sequential runs
with an ``httpx`` client in this process (latency, the ``wallMs`` the enclave reports), then runs/s with
wrk at one and two connections (wrk spends about 0.1 ms of CPU per request, ``bench.keys_sign``) and the
CPU the API and the enclave spent per run. Needs ``wrk`` (``make bench`` installs it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from neo_service_layer.services.compute.adapters.compute_key import ensure_compute_key
from neo_service_layer.services.compute.scopes import COMPUTE_READ, COMPUTE_WRITE

SEQUENTIAL = 30
RUN_BODY: dict[str, object] = {"input": {"n": 1}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, api_key: str, connections: int, duration: float, data: Path) -> tuple[float, int, int]:
    """(runs/s, runs answered 2xx, errors) of ``POST url`` with ``RUN_BODY`` for ``duration`` seconds."""
    script = data / "post.lua"
    script.write_text(
        f"""wrk.method = "POST"
wrk.body = {json.dumps(json.dumps(RUN_BODY))}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {api_key}"
"""
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests = int(found.group(1))
    elapsed = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if failed:
        errors += sum(int(n) for n in failed.groups())
        requests += sum(int(n) for n in failed.groups())
    return (requests - errors) / elapsed, requests - errors, errors


async def _setup(nsl: dict[str, str]) -> str:
    """Tenant, API key (compute scopes) and the platform compute key, written through the services."""
    values: dict[str, Any] = {k.removeprefix("NSL_").lower(): v for k, v in nsl.items()}
    settings = Settings(**values)
    async with open_container(settings, "api", migrate=True) as container:
        scopes = container.iam.scope_catalogue
        admin = Principal(
            PLATFORM_TENANT, "usr_bench", PrincipalKind.USER, frozenset({SUPERADMIN}), scopes.all_scopes
        )
        tenant = await container.iam.identity.create_tenant(admin, "bench")
        owner = Principal(
            tenant.id, "usr_bench", PrincipalKind.USER, frozenset({"owner"}), scopes.tenant_scopes
        )
        _, key = await container.iam.api_keys.create(
            owner, tenant.id, name="bench", scopes=[COMPUTE_READ, COMPUTE_WRITE]
        )
        await ensure_compute_key(container.platform_keys, container.enclave, container.clock)
    return key


async def _wait_socket(path: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError("the enclave exited while starting")
        if os.path.exists(path):  # noqa: ASYNC240 - one stat
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the enclave did not start listening")


def _upload_body(kind: str, function: bytes | str) -> dict[str, object]:
    name = "bench-" + "".join(c for c in kind.lower() if c.isalnum())[:20]
    if isinstance(function, bytes):
        return {"name": name, "language": "wasm", "moduleBase64": base64.b64encode(function).decode()}
    return {"name": name, "language": "python", "source": function}


async def _measure(
    client: httpx.AsyncClient,
    kind: str,
    function: bytes | str,
    inside: float | None,
    processes: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]],
    key: str,
    data: Path,
    duration: float,
) -> str:
    """Upload ``function``, run it one at a time with httpx, then with wrk; the table row."""
    start = time.perf_counter()
    created = await client.post("/api/v1/compute/functions", json=_upload_body(kind, function))
    upload_s = time.perf_counter() - start
    if created.status_code != 201:
        raise RuntimeError(f"upload of {kind} failed: {created.status_code} {created.text[:300]}")
    path = f"/api/v1/compute/functions/{created.json()['functionId']}/runs"
    latencies, walls = [], []
    for i in range(SEQUENTIAL + 3):  # the first 3 warm the path up and are not counted
        start = time.perf_counter()
        ran = await client.post(path, json=RUN_BODY)
        elapsed = time.perf_counter() - start
        if ran.status_code != 200 or ran.json()["outcome"] != "success":
            raise RuntimeError(f"run of {kind} failed: {ran.status_code} {ran.text[:300]}")
        if i >= 3:
            latencies.append(elapsed * 1000)
            walls.append(int(ran.json()["wallMs"]))
    rates = []
    for connections in (1, 2):
        before = [_cpu(p.pid) for p in processes]
        runs_s, runs, errors = _wrk(str(client.base_url).rstrip("/") + path, key, connections, duration, data)
        api_ms, enclave_ms = (
            (_cpu(p.pid) - b) * 1000 / max(runs, 1) for p, b in zip(processes, before, strict=True)
        )
        rates.append(
            f"{runs_s:.0f} ({runs} runs, {errors} errors; "
            f"CPU ms/run: API {api_ms:.1f}, enclave {enclave_ms:.1f})"
        )
    median = statistics.median(latencies)
    share = f"{inside / median:.1%}" if inside is not None else "-"
    spread = f"{median:.2f} ({min(latencies):.2f}-{max(latencies):.2f})"
    return (
        f"| {kind} | {upload_s:.1f} | {spread} | {statistics.median(walls):g} | {inside or 0:.2f} | {share} "
        f"| {rates[0]} | {rates[1]} |"
    )


async def api_phase(
    functions: dict[str, bytes | str], in_process_ms: dict[str, float], duration: float, data: Path
) -> None:
    """Uploads and runs ``functions`` through the API; prints the tables."""
    if shutil.which("wrk") is None:
        print("\n(API phase skipped: wrk is not installed; make bench installs it)")
        return
    os.makedirs(data)
    port = _free_port()
    nsl = {
        "NSL_DATA_DIR": str(data),
        "NSL_HTTP_PORT": str(port),
        "NSL_ENCLAVE_SOCKET": str(data / "e.sock"),
        "NSL_ENCLAVE_TOKEN": secrets.token_urlsafe(32),
        "NSL_RATE_LIMIT_ENABLED": "false",
        "NSL_LOG_LEVEL": "WARNING",
        "NSL_LOG_FORMAT": "json",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")} | nsl
    log = (data / "processes.log").open("wb")
    enclave = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
        [sys.executable, "-m", "neo_service_layer", "enclave"], env=env, stdout=log, stderr=log
    )
    server: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{port}"
    rows: list[str] = []
    try:
        await _wait_socket(data / "e.sock", enclave)
        key = await _setup(nsl)
        server = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"],
            env=env,
            stdout=log,
            stderr=log,
        )
        async with httpx.AsyncClient(
            base_url=base, headers={"authorization": f"Bearer {key}"}, timeout=300
        ) as client:
            for _ in range(400):
                try:
                    if (await client.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            for kind, function in functions.items():
                rows.append(
                    await _measure(
                        client,
                        kind,
                        function,
                        in_process_ms.get(kind),
                        (server, enclave),
                        key,
                        data,
                        duration,
                    )
                )
    finally:
        for process in (server, enclave):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        log.close()
    print(f"\n## Through the API (`nsl serve`, uvicorn, SQLite; wrk {duration:g} s per column)\n")
    print(
        f"| function | upload s | request ms (median, min-max of {SEQUENTIAL}, httpx, one at a time) "
        "| `wallMs` | in-process `ComputeOps.run` ms | its share of the request "
        "| wrk -c1 runs/s | wrk -c2 runs/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
