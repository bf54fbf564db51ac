"""The full disaster-recovery drill: real traffic, backup, loss of database AND data directory, recovery.

The primary runs the HTTP app on enclave A (data dir = the primary's). A standby enclave B in the "DR
region" (its own data dir, so its own sealing secret) received every key by attested migration before
the disaster and keeps its sealed records in a file. The disaster destroys the database and the
primary's data dir, so A's sealing secret too: the backup's sealed records can no longer be opened.
Recovery: restore the backup, start a new enclave C on a fresh data dir, migrate the keys from B to C
(records into the restored database), start the app again. Runs on SQLite and on PostgreSQL and prints
the measured restore time (database restore + key recovery) and the data-loss window.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.rules import NewRequest, RequestStatus
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.backup.adapters.checks import (
    AUDIT_CHAIN,
    SEALED_KEYS,
    audit_chains_verify,
    restore_checks,
    sealed_records_unseal,
)
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.keys.adapters.sealed_record_store import SqlSealedRecordStore
from neo_service_layer.services.keys.cli import RecordFile
from neo_service_layer.services.keys.use_cases import migration as key_migration
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, Tenant
from tests.integration.backup.conftest import dump_tables
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, platform_key, trusting

CONTRACT = "0x" + "ab" * 20
SEEN_AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@dataclass
class Site:
    """Short paths (Unix sockets) for the primary's data dir and the DR region's standby."""

    root: Path

    @property
    def primary(self) -> Path:
        return self.root / "p"

    @property
    def standby(self) -> Path:
        return self.root / "dr"


@pytest.fixture
def site() -> Iterator[Site]:
    root = Path(tempfile.mkdtemp(prefix="nsl-dr-"))
    yield Site(root)
    shutil.rmtree(root, ignore_errors=True)


def _verify(kind: str, public_hex: str, signature: bytes, message: bytes) -> None:
    public = bytes.fromhex(public_hex)
    if kind == "ed25519":
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, message, ec.ECDSA(hashes.SHA256()))


async def _sign(tenant: Tenant, key_id: str, message: bytes) -> bytes:
    response = await tenant.call(
        "POST",
        f"/api/v1/keys/{key_id}/sign",
        "keys:sign",
        json={"message": message.hex(), "purpose": "message"},
    )
    assert response.status_code == 200, response.text
    return bytes.fromhex(response.json()["signature"])


async def _create_key(tenant: Tenant, kind: str) -> dict[str, Any]:
    body = {"kind": kind, "label": f"{kind} drill", "purposes": ["message"]}
    response = await tenant.call("POST", "/api/v1/keys", "keys:admin", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _client(enclave: PeerEnclave) -> EnclaveClient:
    return EnclaveClient(enclave.socket_path, enclave.token, timeout=10)


def _settings(make: Callable[..., Settings], site: Site, url: str | None, enclave: PeerEnclave) -> Settings:
    return make(
        data_dir=site.primary,
        database_url=url or f"sqlite+aiosqlite:///{site.primary / 'nsl.db'}",
        enclave_socket=enclave.socket_path,
        enclave_token=enclave.token,
        enclave_timeout_seconds=10,
        rate_limit_enabled=False,
        password_hash_time_cost=1,
        password_hash_memory_kib=64,
        password_hash_parallelism=1,
    )


async def _drop_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_full_drill_with_traffic_key_recovery_and_restore(
    database_url: str | None,
    make_settings: Callable[..., Settings],
    site: Site,
    tmp_path: Path,
) -> None:
    backup_key = base64.b64encode(b"\x07" * 32).decode()
    offsite = BackupSettings(key=backup_key, dir=tmp_path / "offsite")
    standby_key = platform_key(site.standby)
    primary_key = platform_key(site.primary)
    enclave_a = PeerEnclave(site.primary, site.root / "a.sock", extra=trusting(standby_key))
    enclave_b = PeerEnclave(site.standby, site.root / "b.sock", extra=trusting(primary_key))
    enclave_a.start()
    enclave_b.start()
    running = [enclave_a, enclave_b]
    try:
        await _drill(database_url, make_settings, site, offsite, enclave_a, enclave_b, running)
    finally:
        for process in running:
            if process.process is not None and process.process.poll() is None:
                process.kill()


async def _drill(
    database_url: str | None,
    make_settings: Callable[..., Settings],
    site: Site,
    offsite: BackupSettings,
    enclave_a: PeerEnclave,
    enclave_b: PeerEnclave,
    running: list[PeerEnclave],
) -> None:
    settings = _settings(make_settings, site, database_url, enclave_a)
    standby_records = RecordFile(site.standby / "standby-records.json")
    message = b"the same key before and after the disaster"

    # 1. traffic through the HTTP app on enclave A: keys, signatures, secrets, on-chain requests
    app = create_app(settings)
    async with app_client(app) as client:
        api = Api(app, client, settings, enclave_a)
        acme = await api.tenant("acme")
        tenant_id = acme.id
        keys = [await _create_key(acme, kind) for kind in ("secp256r1", "ed25519", "secp256r1")]
        for key in keys:
            _verify(key["kind"], key["public_key"], await _sign(acme, key["key_id"], message), message)
        put = await acme.call(
            "PUT",
            "/api/v1/secrets/api/token",
            "secrets:write",
            json={"value": "t0ps3cret", "consumers": ["oracle"]},
        )
        assert put.status_code == 201, put.text
        engine = app.state.container.engine
        chain = SqlRequestStore(engine, RandomnessPayloads())
        pending = [
            NewRequest(i, "0x" + "cd" * 20, RandomnessParams(1, bytes([i]) * 32), 100 + i, "0x" + f"{i:064x}")
            for i in (1, 2)
        ]
        await chain.apply_block("randomness", "randomness", CONTRACT, 102, SEEN_AT, pending, [], SEEN_AT)
        claimed = await chain.claim(
            "randomness", CONTRACT, "worker-lost", SEEN_AT, SEEN_AT + timedelta(seconds=30), 10
        )
        assert [r.request_id for r in claimed] == [1, 2]  # leased by a worker that dies in the disaster

        # 2. DR provisioning, before the disaster: every key to the standby enclave B (attested)
        a, b = _client(enclave_a), _client(enclave_b)
        provisioned = await key_migration.migrate(a, b, SqlSealedRecordStore(engine), standby_records)
        assert provisioned.skipped == []
        assert len(provisioned.imported) == len(keys)
        await a.close()
        await b.close()

        # 3. backup, then keep writing (the data-loss window)
        at_backup = await dump_tables(engine)
        created = await build_backup_service(settings, offsite, checks=restore_checks(settings)).create()
        later = await _create_key(acme, "secp256r1")
        await _sign(acme, later["key_id"], message)
    disaster_at = datetime.now(UTC)

    # 4. the disaster: the primary's database and data directory (A's sealing secret) are gone
    enclave_a.kill()
    shutil.rmtree(site.primary)
    if database_url is not None:
        await _drop_database(database_url)

    # 5. recovery: new enclave C on a fresh data dir; B (configured to trust C) is the surviving holder
    started = time.perf_counter()
    recovered_key = platform_key(site.primary)
    enclave_c = PeerEnclave(site.primary, site.root / "c.sock", extra=trusting(enclave_b.platform_key))
    enclave_c.start()
    running.append(enclave_c)
    enclave_b.terminate()
    enclave_b.extra.update(trusting(recovered_key))
    enclave_b.start()
    settings = _settings(make_settings, site, database_url, enclave_c)
    restored = await build_backup_service(settings, offsite, checks=restore_checks(settings)).restore(
        created.backup_id
    )
    restore_seconds = time.perf_counter() - started
    outcomes = {c.name: c for c in restored.checks}
    assert outcomes[AUDIT_CHAIN].ok, outcomes[AUDIT_CHAIN]
    assert not outcomes[SEALED_KEYS].ok  # A's records do not unseal in C: not blocking, and said so
    assert "do not unseal in this enclave" in outcomes[SEALED_KEYS].detail
    assert all(c.ok for c in restored.checks if c.name != SEALED_KEYS), restored.checks

    engine = create_engine(settings)
    try:
        assert await dump_tables(engine) == at_backup  # every record of backup time, byte for byte
        b, c = _client(enclave_b), _client(enclave_c)
        recovered = await key_migration.migrate(b, c, standby_records, SqlSealedRecordStore(engine))
        recovery_seconds = time.perf_counter() - started
        assert recovered.skipped == []
        assert len(recovered.imported) == len(keys)
        unseal = await sealed_records_unseal(engine, c)
        assert unseal.ok, unseal
        assert unseal.detail.startswith(f"{len(keys)} of {len(keys)} ")
        audit = await audit_chains_verify(engine, SystemClock())
        assert audit.ok, audit
        await b.close()
        await c.close()
        chain = SqlRequestStore(engine, RandomnessPayloads())
        assert (await chain.get("randomness", CONTRACT, 2)) is not None
        statuses = await chain.count_by_status("randomness", CONTRACT)
        assert statuses.get(RequestStatus.SEEN) == 2  # both requests still pending after the restore
        after_lease = SEEN_AT + timedelta(minutes=5)
        picked = await chain.claim(
            "randomness", CONTRACT, "worker-new", after_lease, after_lease + timedelta(seconds=30), 10
        )
        assert [r.request_id for r in picked] == [1, 2]  # the dead worker's lease ran out: picked up again
    finally:
        await engine.dispose()

    # 6. the service again, on the restored database and enclave C: the same public keys sign
    app = create_app(settings)
    async with app_client(app) as client:
        acme = Tenant(tenant_id, app.state.container, client)
        for key in keys:
            got = await acme.call("GET", f"/api/v1/keys/{key['key_id']}", "keys:read")
            assert got.json()["public_key"] == key["public_key"]
            _verify(key["kind"], key["public_key"], await _sign(acme, key["key_id"], message), message)
        lost = await acme.call("GET", f"/api/v1/keys/{later['key_id']}", "keys:read")
        assert lost.status_code == 404  # created after the backup: inside the data-loss window

    window = (disaster_at - created.manifest.created_at).total_seconds()
    print(
        f"\n[full drill {created.manifest.dialect}] backup {created.size} bytes in {created.seconds:.3f} s; "
        f"restore {restored.seconds:.3f} s (database), {restore_seconds:.3f} s with enclave start, "
        f"{recovery_seconds:.3f} s until keys sign again (migration from the standby); "
        f"data-loss window {window:.3f} s (1 key and its audit entries written after the backup are gone)"
    )
