"""Signatures per second for secp256r1 through the API versus ``cryptography`` in-process.

Usage: ``.venv/bin/python -m bench.keys_sign [--duration 5] [--concurrency 16] [--workers N [--redis
redis://...]]``. Starts a real ``nsl enclave`` and ``nsl serve`` (``--workers`` API processes,
``NSL_HTTP_WORKERS``, which needs Redis: ``--redis``, default ``NSL_TEST_REDIS_URL`` or the local one) on
loopback (temporary SQLite data dir, fresh enclave token), creates a
tenant, an API key (``keys:admin keys:sign``) and a secp256r1 key for the run, then for a bounded time
(and at most ``--max-requests`` requests per phase) drives:

- ``POST /api/v1/keys/{id}/sign`` (one 32-byte message per request), with wrk;
- ``POST /api/v1/keys/{id}/sign-batch`` (100 messages per request), with wrk;
- the same batch route with an ``httpx`` client in this process;

and signs the same kind of messages in-process with ``cryptography`` (deterministic ECDSA P-256/SHA-256,
one thread). Prints a markdown table with the rates, their ratio to the in-process rate and the CPU each
process spent per request. Rate limiting is switched off and the API logs at WARNING, so the figures are
the signing path's.

Load generator: client, API and enclave share the machine's cores. wrk (C, as in ``bench.http_load``)
spends about 0.1 ms of CPU per request; the Python ``httpx`` client about 2 ms, a fifth of the whole
budget of a batch request, taken from the service under test. The wrk rows are the service's rate; the
``httpx`` row shows what a Python client on the same 2 cores gets. Needs ``wrk`` (``make bench``
installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN

BATCH = 100


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _api_key(env: dict[str, str]) -> str:
    """A tenant and an API key for the run, written straight through the services (as the CLI would)."""
    settings = Settings(**{k.removeprefix("NSL_").lower(): v for k, v in env.items() if k.startswith("NSL_")})
    async with open_container(settings, "cli", migrate=True) as container:
        scopes = container.iam.scope_catalogue
        admin = Principal(
            PLATFORM_TENANT, "usr_bench", PrincipalKind.USER, frozenset({SUPERADMIN}), scopes.all_scopes
        )
        tenant = await container.iam.identity.create_tenant(admin, "bench")
        owner = Principal(
            tenant.id, "usr_bench", PrincipalKind.USER, frozenset({"owner"}), scopes.tenant_scopes
        )
        _, key = await container.iam.api_keys.create(
            owner, tenant.id, name="bench", scopes=["keys:admin", "keys:sign"]
        )
    return key


async def _drive(
    client: httpx.AsyncClient, path: str, body: dict[str, object], per_request: int, args: argparse.Namespace
) -> tuple[float, int, int]:
    """(signatures/s, requests, errors) for ``duration`` seconds or ``max_requests`` requests."""
    deadline = time.perf_counter() + args.duration
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline and done + errors < args.max_requests:
            response = await client.post(path, json=body)
            if response.status_code == 200:
                done += 1
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - start
    return done * per_request / elapsed, done, errors


def _wrk(
    url: str, body: dict[str, object], api_key: str, per_request: int, args: argparse.Namespace, data: Path
) -> tuple[float, int, int, float]:
    """(signatures/s, requests, errors, wrk CPU seconds) for ``duration`` s or ``max_requests`` requests."""
    script = data / "post.lua"
    script.write_text(
        f"""wrk.method = "POST"
wrk.body = {json.dumps(json.dumps(body))}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {api_key}"
local seen, limit = 0, {args.max_requests}
response = function(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
"""
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{args.concurrency}", f"-d{args.duration:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.duration + 60,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests = int(found.group(1))
    elapsed = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:  # failed or timed-out requests are not in wrk's count of requests
        requests += sum(int(n) for n in socket_errors.groups())
        errors += sum(int(n) for n in socket_errors.groups())
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return (requests - errors) * per_request / elapsed, requests - errors, errors, cpu


def _cpu(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live children (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu(int(child)) for child in children)


def _in_process(duration: float) -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    messages = [os.urandom(32) for _ in range(1000)]
    count = 0
    deadline = time.perf_counter() + duration
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for message in messages[:100]:
            key.sign(message, algorithm)
        count += 100
    return count / (time.perf_counter() - start)


async def _run(args: argparse.Namespace, data: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    nsl = {
        "NSL_DATA_DIR": str(data),
        "NSL_HTTP_PORT": str(port),
        "NSL_ENCLAVE_SOCKET": str(data / "e.sock"),
        "NSL_ENCLAVE_TOKEN": secrets.token_urlsafe(32),
        "NSL_RATE_LIMIT_ENABLED": "false",
        "NSL_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "NSL_LOG_FORMAT": "json",
    }
    if args.database_url:
        nsl["NSL_DATABASE_URL"] = args.database_url
    if args.workers > 1:
        run = secrets.token_hex(4)
        nsl |= {
            "NSL_HTTP_WORKERS": str(args.workers),
            "NSL_REDIS_URL": args.redis,
            "NSL_RATE_LIMIT_NAMESPACE": f"nsl:bench:{run}",
            "NSL_CACHE_INVALIDATION_CHANNEL": f"nsl:bench:{run}:invalidate",
        }
    env.update(nsl)
    log = (data / "processes.log").open("wb")
    enclave = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [sys.executable, "-m", "neo_service_layer", "enclave"], env=env, stdout=log, stderr=log
    )
    for _ in range(400):  # the API key is issued by the enclave: it must be listening first
        if (data / "e.sock").exists() or enclave.poll() is not None:
            break
        await asyncio.sleep(0.05)
    key = await _api_key(nsl)
    server = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base,
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=args.concurrency),
        ) as client:
            for _ in range(400):
                try:
                    ready = await client.get("/health/ready")
                    if ready.status_code < 500 and (data / "e.sock").exists():
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            created = await client.post(
                "/api/v1/keys", json={"kind": "secp256r1", "label": "bench", "purposes": ["message"]}
            )
            created.raise_for_status()
            key_id = created.json()["key_id"]
            message = os.urandom(32).hex()
            single = {"message": message, "purpose": "message"}
            batch = {"messages": [os.urandom(32).hex() for _ in range(BATCH)], "purpose": "message"}
            await _drive(client, f"/api/v1/keys/{key_id}/sign", single, 1, _warmup(args))
            local_before = _in_process(args.duration)
            sign_url, batch_url = (
                f"{base}/api/v1/keys/{key_id}/sign",
                f"{base}/api/v1/keys/{key_id}/sign-batch",
            )
            rows = []
            for name, url, body, per_request in (
                ("`POST /keys/{id}/sign`, wrk", sign_url, single, 1),
                ("`POST /keys/{id}/sign-batch` (100/request), wrk", batch_url, batch, BATCH),
            ):
                before = (_cpu(server.pid), _cpu(enclave.pid))
                rate, requests, errors, client_cpu = _wrk(url, body, key, per_request, args, data)
                after = (_cpu(server.pid), _cpu(enclave.pid))
                rows.append((name, rate, requests, errors, (*_per(before, after, requests), client_cpu)))
            before = (_cpu(server.pid), _cpu(enclave.pid))
            start_cpu = time.process_time()
            rate, requests, errors = await _drive(client, batch_url, batch, BATCH, args)
            after = (_cpu(server.pid), _cpu(enclave.pid))
            client_cpu = time.process_time() - start_cpu
            rows.append(
                (
                    "`POST /keys/{id}/sign-batch` (100/request), httpx in Python",
                    rate,
                    requests,
                    errors,
                    (*_per(before, after, requests), client_cpu),
                )
            )
        local_after = _in_process(args.duration)
    finally:
        for process in (server, enclave):
            process.terminate()
            process.wait(timeout=20)
        log.close()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, {args.duration:g}s per phase, concurrency {args.concurrency}, "
        f"{args.workers} API process(es) + 1 enclave process on loopback, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}"
    )
    print(
        "| path | signatures/s | requests | errors | vs in-process | CPU ms/request: API / enclave / client |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    local = (local_before + local_after) / 2  # measured before and after the API phases
    print(
        f"| `cryptography` in-process (1 thread; {local_before:.0f} before, {local_after:.0f} after) "
        f"| {local:.0f} | — | — | 100 % | — |"
    )
    for name, rate, requests, errors, (api_ms, enclave_ms, client_s) in rows:
        client_ms = client_s * 1000 / max(requests, 1)
        print(
            f"| {name} | {rate:.0f} | {requests} | {errors} | {rate / local:.1%} | "
            f"{api_ms:.1f} / {enclave_ms:.1f} / {client_ms:.1f} |"
        )


def _per(before: tuple[float, float], after: tuple[float, float], requests: int) -> tuple[float, float]:
    """CPU ms per request of the API and enclave processes between two readings."""
    count = max(requests, 1)
    return (after[0] - before[0]) * 1000 / count, (after[1] - before[1]) * 1000 / count


def _warmup(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(
        duration=min(1.0, args.duration), max_requests=200, concurrency=args.concurrency
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh, empty database)")
    parser.add_argument("--workers", type=int, default=1, help="API processes (NSL_HTTP_WORKERS)")
    parser.add_argument("--redis", default=os.environ.get("NSL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: make bench (or apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="nsl-b-") as data:
        asyncio.run(_run(args, Path(data)))


if __name__ == "__main__":
    main()
