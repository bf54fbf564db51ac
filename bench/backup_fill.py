"""The 200 000 rows of ``bench.backup_size``: the tables that grow in use, written through the real schema.

Tenants; audit entries appended through the audit log itself (valid hash chains, so a restore's
``audit_chain`` check passes); on-chain requests with their randomness payloads; managed keys with their
versions and sealed records; outbox transactions. Random bytes where the service stores random bytes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import chain_outbox, chain_requests
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.enclave_client.sealed_records import key_sealed_records
from neo_service_layer.kernel.identity.adapters.audit_store import SqlAuditLog
from neo_service_layer.kernel.identity.adapters.tables import tenants
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome
from neo_service_layer.services.keys.adapters.tables import managed_key_versions, managed_keys
from neo_service_layer.services.randomness.adapters.tables import randomness_requests

TENANTS = 100
BATCH = 5_000
CONTRACT = "0x" + "ab" * 20
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _plan(rows: int) -> dict[str, int]:
    """How many rows each table gets; they add up to ``rows`` (audit chain heads come on top)."""
    audit, requests, keys = rows * 3 // 10, rows // 4, rows // 20
    outbox = rows - TENANTS - audit - 2 * requests - 3 * keys
    if outbox < 0:
        raise SystemExit(f"--rows must be at least {TENANTS * 20}")
    return {"audit": audit, "requests": requests, "keys": keys, "outbox": outbox}


def _at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def _tenant(i: int) -> str:
    return f"tnt_bench_{i % TENANTS:03d}"


def _request_rows(start: int, stop: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    requests, payloads = [], []
    for i in range(start, stop):
        tx = "0x" + secrets.token_hex(32)
        requests.append(
            {
                "service": "randomness",
                "contract": CONTRACT,
                "request_id": i,
                "consumer": "0x" + secrets.token_hex(20),
                "request_block": 1000 + i // 8,
                "request_tx": "0x" + secrets.token_hex(32),
                "request_time": _at(i),
                "seen_at": _at(i),
                "status": "delivered",
                "attempts": 1,
                "tx_hash": tx,
                "with_delivery": True,
                "fulfilled_block": 1001 + i // 8,
                "fulfilled_tx": tx,
                "fulfilled_time": _at(i + 1),
                "delivered_block": 1001 + i // 8,
                "chain_faults": 0,
                "updated_at": _at(i + 1),
            }
        )
        payloads.append(
            {
                "contract": CONTRACT,
                "request_id": i,
                "num_words": 1 + i % 4,
                "seed": os.urandom(32),
                "output": os.urandom(32),
                "proof": os.urandom(96),
            }
        )
    return requests, payloads


def _key_rows(start: int, stop: int) -> dict[Table, list[dict[str, Any]]]:
    keys, versions, sealed = [], [], []
    for i in range(start, stop):
        key_id, tenant = f"key_{i:08d}_{secrets.token_hex(6)}", _tenant(i)
        keys.append(
            {
                "key_id": key_id,
                "tenant_id": tenant,
                "label": f"signing key {i}",
                "kind": "secp256r1",
                "purposes": "sign",
                "status": "active",
                "current_version": 1,
                "min_sign_version": 1,
                "created_at": _at(i),
            }
        )
        versions.append(
            {
                "key_id": key_id,
                "version": 1,
                "tenant_id": tenant,
                "public_key": os.urandom(33),
                "created_at": _at(i),
            }
        )
        sealed.append({"key_id": key_id, "version": 1, "sealed": os.urandom(220), "created_at": _at(i)})
    return {managed_keys: keys, managed_key_versions: versions, key_sealed_records: sealed}


def _outbox_rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "tx_hash": "0x" + secrets.token_hex(32),
            "service": "randomness",
            "raw": os.urandom(400),
            "valid_until_block": 2000 + i,
            "system_fee": 1_000_000 + i,
            "network_fee": 120_000,
            "status": "included",
            "send_count": 1,
            "created_at": _at(i),
            "last_sent_at": _at(i),
            "included_block": 1001 + i,
        }
        for i in range(start, stop)
    ]


async def _insert(engine: AsyncEngine, table: Table, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.insert(), rows)


async def fill(engine: AsyncEngine, rows: int) -> None:
    """Insert ``rows`` rows through the application's tables (and its audit log)."""
    plan = _plan(rows)
    await _insert(
        engine,
        tenants,
        [
            {"id": _tenant(i), "name": _tenant(i), "plan": "free", "active": True, "created_at": T0}
            for i in range(TENANTS)
        ],
    )
    log = SqlAuditLog(engine, SystemClock())
    for start in range(0, plan["audit"], BATCH):
        await asyncio.gather(
            *[
                log.record(
                    AuditRecord(
                        tenant_id=_tenant(i * TENANTS // plan["audit"]),  # one chain after another
                        actor=f"usr_{i % 977:04d}",
                        action="key.sign",
                        outcome=Outcome.SUCCESS,
                        target=f"key_{i % 5000:08d}",
                        request_id=secrets.token_hex(16),
                        client_ip=f"10.0.{i % 250}.{i % 200}",
                        details={"bytes": str(32 + i % 64)},
                    )
                )
                for i in range(start, min(start + BATCH, plan["audit"]))
            ]
        )
    for start in range(0, plan["requests"], BATCH):
        requests, payloads = _request_rows(start, min(start + BATCH, plan["requests"]))
        await _insert(engine, chain_requests, requests)
        await _insert(engine, randomness_requests, payloads)
    for start in range(0, plan["keys"], BATCH):
        for table, batch in _key_rows(start, min(start + BATCH, plan["keys"])).items():
            await _insert(engine, table, batch)
    for start in range(0, plan["outbox"], BATCH):
        await _insert(engine, chain_outbox, _outbox_rows(start, min(start + BATCH, plan["outbox"])))
