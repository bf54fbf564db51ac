"""Authenticated reads against a bare FastAPI app in the same run (issue #18).

Usage: ``python -m bench.auth_load [--duration 8] [--connections 32] [--postgres postgresql://...]
[--workers N [--redis redis://...]] [--with-worker]``.
Starts a bare FastAPI "hello" app on uvicorn (one process, the reference), then ``nsl serve`` over a new
SQLite data dir (or a new database on the PostgreSQL server of ``--postgres``) with rate limiting off,
creates a tenant, an API key (``keys:read``) and a member signed in for an access token, and drives
``GET /api/v1/keys`` with each credential with ``wrk -t1``. Prints requests/s, p50/p99, the ratio to the
bare app and the hit rates of the principal and key catalogue caches from ``/metrics``. ``--workers``
runs ``nsl serve`` in that many processes (``NSL_HTTP_WORKERS``, which needs Redis: ``--redis``, default
``NSL_TEST_REDIS_URL`` or the local one); the reference stays one process. ``--with-worker`` runs
``nsl worker`` beside the API on the same database, as ``nsl run`` does (no chain configured: its
heartbeat, purge and subscription jobs). Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.http_load import _free_port, run_wrk
from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN, Role

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
"""


async def _setup(nsl: dict[str, str]) -> tuple[str, str]:
    """(API key with keys:read, access token of a tenant member), written through the services."""
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
        _, key = await container.iam.api_keys.create(owner, tenant.id, name="bench", scopes=["keys:read"])
        password = secrets.token_urlsafe(16)
        await container.iam.identity.add_member(
            owner, tenant.id, username="bench-reader", role=Role.DEVELOPER, password=password
        )
        await container.iam.codec.ensure_key()
        tokens = await container.iam.auth.sign_in("bench-reader", password, tenant=tenant.id)
    return key, tokens.access_token


def _wrk_auth(url: str, credential: str, duration: int, connections: int, data: Path) -> dict[str, float]:
    script = data / f"auth-{secrets.token_hex(3)}.lua"
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {credential}"\n')
    return run_wrk(url, duration, connections, script=str(script))


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited while starting")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def _hit_rate(base: str) -> str:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    rows = []
    for cache in ("api_key", "access_token", "key_catalogue"):
        hits = sum(float(v) for v in re.findall(rf'nsl_cache_hits_total{{cache="{cache}"}} ([\d.e+]+)', text))
        misses = sum(
            float(v) for v in re.findall(rf'nsl_cache_misses_total{{cache="{cache}"}} ([\d.e+]+)', text)
        )
        if hits + misses:
            rows.append(f"{cache} {hits / (hits + misses):.2%} ({hits:.0f} hits, {misses:.0f} misses)")
    return "; ".join(rows) or "no cache metrics"


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8, help="seconds per route")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: SQLite)")
    parser.add_argument("--workers", type=int, default=1, help="API processes (NSL_HTTP_WORKERS)")
    parser.add_argument("--redis", default=os.environ.get("NSL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--with-worker", action="store_true", help="run `nsl worker` beside the API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port, bare_port = _free_port(), _free_port()
        nsl = {
            "NSL_DATA_DIR": str(data),
            "NSL_HTTP_PORT": str(port),
            "NSL_RATE_LIMIT_ENABLED": "false",
            "NSL_LOG_LEVEL": "WARNING",
            "NSL_LOG_FORMAT": "json",
            "NSL_HTTP_WORKERS": str(args.workers),
        }
        if args.workers > 1:
            run = secrets.token_hex(4)
            nsl |= {
                "NSL_REDIS_URL": args.redis,
                "NSL_RATE_LIMIT_NAMESPACE": f"nsl:bench:{run}",
                "NSL_CACHE_INVALIDATION_CHANNEL": f"nsl:bench:{run}:invalidate",
            }
        database = f"nsl_auth_{secrets.token_hex(4)}"
        if args.postgres:
            asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{database}"'))
            nsl["NSL_DATABASE_URL"] = f"{args.postgres.rpartition('/')[0]}/{database}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")} | nsl
        key, token = asyncio.run(_setup(nsl))
        (data / "bare_app.py").write_text(BARE_APP)
        log = (data / "processes.log").open("wb")
        bare = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port), "--log-level",
             "warning", "--no-access-log"],
            cwd=data, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"],
            env=env,
            stdout=log,
            stderr=log,
        )
        worker = (
            subprocess.Popen(
                [sys.executable, "-m", "neo_service_layer", "worker"], env=env, stdout=log, stderr=log
            )
            if args.with_worker
            else None
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(f"http://127.0.0.1:{bare_port}/hello", bare)
            _wait(f"{base}/health/live", server)
            for credential in (key, token):
                answer = httpx.get(f"{base}/api/v1/keys", headers={"authorization": f"Bearer {credential}"})
                answer.raise_for_status()
            print(
                f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
                f"python {platform.python_version()}, {'PostgreSQL' if args.postgres else 'SQLite'}, "
                f"{args.workers} API process(es){' + nsl worker' if worker else ''}, "
                f"wrk -t1 -c{args.connections} -d{args.duration}s, load average {os.getloadavg()[0]:.1f}"
            )
            print("| route | requests/s | p50 ms | p99 ms | non-2xx | vs bare |")
            print("| --- | --- | --- | --- | --- | --- |")
            reference = run_wrk(f"http://127.0.0.1:{bare_port}/hello", args.duration, args.connections)
            rows = [("bare FastAPI `/hello`", reference)]
            rows.append(("`/health/live`", run_wrk(f"{base}/health/live", args.duration, args.connections)))
            for label, credential in (("API key", key), ("access token", token)):
                result = _wrk_auth(f"{base}/api/v1/keys", credential, args.duration, args.connections, data)
                rows.append((f"`GET /api/v1/keys`, {label}", result))
            for label, result in rows:
                print(
                    f"| {label} | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | "
                    f"{result['errors']:.0f} | {result['rps'] / reference['rps']:.2f} |"
                )
            print(f"\nCaches: {_hit_rate(base)}")
            if worker is not None and worker.poll() is not None:
                raise RuntimeError(f"nsl worker exited ({worker.returncode}) during the run")
        finally:
            for process in (server, bare, *([worker] if worker else [])):
                process.terminate()
                process.wait(timeout=20)
            log.close()
            if args.postgres:
                asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{database}"'))


if __name__ == "__main__":
    main()
