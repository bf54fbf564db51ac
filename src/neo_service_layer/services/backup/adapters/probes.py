"""Reachability probes for ``nsl dr plan``: database, enclave socket, chain RPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.db.health import DatabaseCheck
from neo_service_layer.services.backup.rules.disaster_recovery import Probe

TIMEOUT = 3.0


async def probe_database(engine: AsyncEngine) -> Probe:
    status = await DatabaseCheck(engine, timeout=TIMEOUT)()
    return Probe("database", status.ok, status.detail or str(status.info.get("dialect", "")))


async def probe_enclave(socket_path: Path) -> Probe:
    """Reachable means the enclave's Unix socket accepts a connection."""
    try:
        async with asyncio.timeout(TIMEOUT):
            _reader, writer = await asyncio.open_unix_connection(str(socket_path))
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return Probe("enclave", False, f"{socket_path}: {type(exc).__name__}")
    return Probe("enclave", True, str(socket_path))


async def probe_chain(rpc_url: str | None) -> Probe:
    """Reachable means ``getblockcount`` answers (``ok`` is ``None`` when no URL is configured)."""
    if not rpc_url:
        return Probe("chain_rpc", None, "not configured")
    body = {"jsonrpc": "2.0", "id": 1, "method": "getblockcount", "params": []}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            answer = await client.post(rpc_url, json=body)
            answer.raise_for_status()
            height = answer.json()["result"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Probe("chain_rpc", False, type(exc).__name__)
    return Probe("chain_rpc", True, f"block height {height}")
