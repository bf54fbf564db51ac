"""HTTP baseline: ``nsl serve`` on loopback driven by wrk, for /health/live and a DB-backed route.

Usage: ``make bench`` (or ``python -m bench.http_load --duration 5 --connections 32``). Starts its own
server on a free port with a temporary SQLite data dir, runs wrk against each route for a bounded time,
and prints requests/s with p50/p99 latency. Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROUTES = ("/health/live", "/api/v1/system/info")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, duration: int, connections: int, script: str | None = None) -> dict[str, float]:
    """requests/s, p50/p99 and non-2xx of ``wrk -t1`` on ``url`` (``script``: a Lua file, e.g. headers)."""
    extra = ["-s", script] if script else []
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": float(non2xx.group(1)) if non2xx else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per route")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
        # Rate limiting off: one loopback client would otherwise be throttled to 1000 requests/min.
        env.update(
            {
                "NSL_DATA_DIR": data,
                "NSL_HTTP_PORT": str(port),
                "NSL_LOG_FORMAT": "json",
                "NSL_RATE_LIMIT_ENABLED": "false",
            }
        )
        log = Path(data) / "server.log"
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [sys.executable, "-m", "neo_service_layer", "serve"], env=env, stdout=sink, stderr=sink
            )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{base}/health/live", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            print(
                f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
                f"python {platform.python_version()}, wrk -t1 -c{args.connections} -d{args.duration}s"
            )
            print("| route | requests/s | p50 ms | p99 ms | non-2xx |")
            print("| --- | --- | --- | --- | --- |")
            for route in ROUTES:
                result = run_wrk(base + route, args.duration, args.connections)
                print(
                    f"| `{route}` | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | "
                    f"{result['errors']:.0f} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
