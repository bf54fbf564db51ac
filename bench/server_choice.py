"""uvicorn against granian, side by side, for the bare FastAPI app and for our API (issue #18).

Usage: ``python -m bench.server_choice [--workers N] [--rounds 2] [--duration 8] [--connections 32]
[--redis redis://...]``.

Each round serves, one after the other on fresh ports: the bare FastAPI "hello" app under uvicorn
(uvloop, httptools) and under granian (ASGI, uvloop), then our API over a new SQLite data dir (rate
limiting off) as ``nsl serve`` runs it (uvicorn's supervisor, ``NSL_HTTP_WORKERS``) and under granian
(the same app factory, ``bootstrap.served_app``, Prometheus in multiprocess mode), every server with
``--workers`` processes. ``wrk -t1`` drives ``/hello`` and ``GET /api/v1/keys`` with an API key. The
ratios are against the bare app on uvicorn in the same round, so a noisy machine moves both. Several
processes need Redis (``--redis``, default ``NSL_TEST_REDIS_URL`` or the local one). Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.auth_load import BARE_APP, _setup, _wait, _wrk_auth
from bench.http_load import _free_port, run_wrk

GRANIAN = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-ws"]
QUIET = ["--log-level", "warning", "--no-access-log"]


@contextmanager
def _serving(command: list[str], url: str, env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    """``command`` running until the block ends, once ``url`` answers."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
        try:
            _wait(url, process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def _commands(server: str, app: str, port: int, workers: int) -> list[str]:
    if server == "uvicorn" and app == "bare":
        return [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--workers",
                str(workers), "--loop", "uvloop", "--http", "httptools", *QUIET]  # fmt: skip
    if server == "uvicorn":
        return [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"]
    target = "bare_app:app" if app == "bare" else "neo_service_layer.bootstrap:served_app"
    factory = [] if app == "bare" else ["--factory"]
    return [*GRANIAN, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *QUIET,
            *factory, target]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis", default=os.environ.get("NSL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        run = secrets.token_hex(4)
        nsl = {
            "NSL_DATA_DIR": str(data),
            "NSL_RATE_LIMIT_ENABLED": "false",
            "NSL_LOG_LEVEL": "WARNING",
            "NSL_LOG_FORMAT": "json",
            "NSL_HTTP_WORKERS": str(args.workers),
        }
        if args.workers > 1:
            nsl |= {
                "NSL_REDIS_URL": args.redis,
                "NSL_RATE_LIMIT_NAMESPACE": f"nsl:bench:{run}",
                "NSL_CACHE_INVALIDATION_CHANNEL": f"nsl:bench:{run}:invalidate",
            }
        key, _ = asyncio.run(_setup(nsl))
        (data / "bare_app.py").write_text(BARE_APP)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")} | nsl
        print(
            f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
            f"python {platform.python_version()}, SQLite, {args.workers} process(es) per server, "
            f"wrk -t1 -c{args.connections} -d{args.duration}s, load average {os.getloadavg()[0]:.1f}"
        )
        print("| round | server | bare `/hello` req/s (p99 ms) | API key `GET /api/v1/keys` req/s (p99 ms) "
              "| bare vs bare uvicorn | API vs bare uvicorn |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- |")
        for round_ in range(1, args.rounds + 1):
            reference = 0.0
            for server in ("uvicorn", "granian"):
                results = {}
                for app, path in (("bare", "/hello"), ("nsl", "/api/v1/keys")):
                    port = _free_port()
                    env = base_env | {"NSL_HTTP_PORT": str(port)}
                    metrics = data / f"metrics-{server}-{round_}"
                    if server == "granian" and app == "nsl":
                        metrics.mkdir()
                        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
                    command = _commands(server, app, port, args.workers)
                    live = f"http://127.0.0.1:{port}" + ("/hello" if app == "bare" else "/health/live")
                    with _serving(command, live, env, data, data / "servers.log"):
                        url = f"http://127.0.0.1:{port}{path}"
                        results[app] = (
                            run_wrk(url, args.duration, args.connections)
                            if app == "bare"
                            else _wrk_auth(url, key, args.duration, args.connections, data)
                        )
                bare, api = results["bare"], results["nsl"]
                if bare["errors"] or api["errors"]:
                    raise RuntimeError(f"non-2xx answers under {server}: bare {bare}, API {api}")
                reference = reference or bare["rps"]
                print(
                    f"| {round_} | {server} | {bare['rps']:.0f} ({bare['p99_ms']:.1f}) | "
                    f"{api['rps']:.0f} ({api['p99_ms']:.1f}) | {bare['rps'] / reference:.2f} | "
                    f"{api['rps'] / reference:.2f} |"
                )


if __name__ == "__main__":
    main()
