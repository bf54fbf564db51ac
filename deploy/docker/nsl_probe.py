#!/opt/nsl/bin/python
"""nsl-probe: container health probes for the roles that have no HTTP port of their own.

    nsl-probe http URL                 the URL answers 2xx (default: this container's /health/live)
    nsl-probe socket PATH              something accepts connections on the Unix socket (the enclave)
    nsl-probe heartbeat [--max-age S]  this host's worker wrote its heartbeat in the last S seconds

Exit status 0 when healthy, 1 when not (the reason goes to stderr). Probes run outside the image's
entrypoint, so secrets mounted as files (nsl_<name> in $NSL_SECRETS_DIR) are read here the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path


def load_secret_files(environ: MutableMapping[str, str], directory: Path) -> None:
    """Set NSL_<NAME> from each file nsl_<name> of ``directory`` unless already set (as the entrypoint)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("nsl_*")):
        name = path.name.upper()
        if not path.is_file() or not name.replace("_", "").isalnum() or not name.isascii():
            continue
        environ.setdefault(name, path.read_text().rstrip("\n"))


def probe_http(url: str, timeout: float) -> str | None:
    """``None`` when ``url`` answers 2xx, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own URL)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url} unreachable: {exc}"
    return None if 200 <= status < 300 else f"{url} answered {status}"


def probe_socket(path: str, timeout: float) -> str | None:
    """``None`` when a server accepts a connection on the Unix socket ``path``, else why not."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        client.connect(path)
    except OSError as exc:
        return f"cannot connect to {path}: {exc.strerror or exc}"
    finally:
        client.close()
    return None


async def _last_heartbeat(hostname: str) -> datetime | None:
    from sqlalchemy import func, select

    from neo_service_layer.kernel.db.engine import create_engine
    from neo_service_layer.kernel.db.tables import worker_heartbeats
    from neo_service_layer.kernel.config import load_settings

    engine = create_engine(load_settings())
    try:
        async with engine.connect() as conn:
            query = select(func.max(worker_heartbeats.c.last_seen_at)).where(
                worker_heartbeats.c.hostname == hostname
            )
            last: datetime | None = (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    return last


def probe_heartbeat(max_age: float, hostname: str | None = None) -> str | None:
    """``None`` when the worker of this host recorded a heartbeat within ``max_age`` seconds."""
    host = hostname or socket.gethostname()
    try:
        last = asyncio.run(_last_heartbeat(host))
    except Exception as exc:
        return f"cannot read heartbeats: {type(exc).__name__}"
    if last is None:
        return f"no heartbeat from {host} yet"
    if last.tzinfo is None:  # SQLite keeps no time zone; the worker writes UTC
        last = last.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - last).total_seconds()
    if age > max_age:
        return f"last heartbeat from {host} is {age:.0f} s old (limit {max_age:.0f} s)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nsl-probe", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    http = commands.add_parser("http", help="an HTTP URL answers 2xx")
    http.add_argument("url", nargs="?", default=None)
    unix = commands.add_parser("socket", help="a Unix socket accepts connections")
    unix.add_argument("path")
    beat = commands.add_parser("heartbeat", help="this host's worker is recording heartbeats")
    beat.add_argument("--max-age", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args(argv)

    load_secret_files(os.environ, Path(os.environ.get("NSL_SECRETS_DIR", "/run/secrets")))
    if args.command == "http":
        url = args.url or f"http://127.0.0.1:{os.environ.get('NSL_HTTP_PORT', '8080')}/health/live"
        problem = probe_http(url, args.timeout)
    elif args.command == "socket":
        problem = probe_socket(args.path, args.timeout)
    else:
        problem = probe_heartbeat(args.max_age)
    if problem:
        print(f"nsl-probe: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
