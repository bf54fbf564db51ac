"""Key recovery across machines: attested migration between real enclave processes.

Each enclave has its own data directory, so its own simulated sealing secret and platform key. Peers
trust each other's simulated platform keys through ``NSL_MIGRATION_*`` (their own configuration).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import EnclaveProcess, PeerEnclave, platform_key, trusting
from typer.testing import CliRunner

from neo_service_layer.cli import app
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    AttestationFailed,
    KeyKind,
    KeyPolicy,
    Purpose,
    SealedDataInvalid,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.keys.adapters.sealed_record_store import SqlSealedRecordStore
from neo_service_layer.services.keys.use_cases import migration as key_migration
from neo_service_layer.services.keys.use_cases.migration import Record

POLICY = KeyPolicy.of("acme", [Purpose.MESSAGE, Purpose.ORACLE])


class Records:
    """Sealed records in memory (a record store of ``services.key_migration``)."""

    def __init__(self, records: Sequence[SealedKey] = ()) -> None:
        self.items: dict[tuple[str, int], bytes] = {}
        for sealed in records:
            self.items[(sealed.info.key_id, sealed.info.version)] = sealed.sealed_record

    async def all_records(self) -> list[Record]:
        return [(k, v, r) for (k, v), r in sorted(self.items.items())]

    async def put_records(self, records: Sequence[SealedKey]) -> None:
        for sealed in records:
            self.items[(sealed.info.key_id, sealed.info.version)] = sealed.sealed_record


@dataclass
class Cluster:
    old: PeerEnclave
    new: PeerEnclave
    other: PeerEnclave
    stranger: PeerEnclave

    def client(self, enclave: EnclaveProcess) -> EnclaveClient:
        return EnclaveClient(enclave.socket_path, enclave.token, timeout=10)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="nsl-m-"))
    keys = {name: platform_key(root / name) for name in ("a", "b", "d", "s")}
    old = PeerEnclave(root / "a", root / "a.sock", extra=trusting(keys["b"], keys["d"]))
    new = PeerEnclave(root / "b", root / "b.sock", extra=trusting(keys["a"]))
    other = PeerEnclave(root / "d", root / "d.sock", extra=trusting(keys["a"]))
    stranger = PeerEnclave(root / "s", root / "s.sock", extra=trusting(keys["a"]))
    started = []
    try:
        for process in (old, new, other, stranger):
            process.start()
            started.append(process)
        yield Cluster(old, new, other, stranger)
    finally:
        for process in started:
            if process.process is not None and process.process.poll() is None:
                process.kill()
        shutil.rmtree(root, ignore_errors=True)


def _verify_p256(public: bytes, raw: bytes, data: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


async def test_keys_migrate_to_an_enclave_with_another_sealing_key(cluster: Cluster) -> None:
    old, new = cluster.client(cluster.old), cluster.client(cluster.new)
    created = [await old.create_key(KeyKind.SECP256R1, POLICY) for _ in range(3)]
    rotated = await old.rotate(created[0].info.key_id, tenant="acme")
    source = Records([*created, rotated])
    moved = Records()
    report = await key_migration.migrate(old, new, source, moved)
    assert report.skipped == []
    assert sorted(moved.items) == sorted(source.items)
    for (key_id, version), record in source.items.items():
        with pytest.raises(SealedDataInvalid):  # the old enclave's record does not open in the new one
            await new.load_key(key_id, record)
        assert moved.items[(key_id, version)] != record

    await new.close()
    cluster.new.terminate()  # the new records survive a restart of the new enclave
    cluster.new.start()
    new = cluster.client(cluster.new)
    for sealed in [*created, rotated]:
        info = await new.load_key(sealed.info.key_id, moved.items[(sealed.info.key_id, sealed.info.version)])
        assert info.public_key == sealed.info.public_key
        signature = await new.sign(
            sealed.info.key_id,
            b"after the move",
            tenant="acme",
            purpose=Purpose.MESSAGE,
            fmt=SignatureFormat.ECDSA_SHA256,
            version=sealed.info.version,
        )
        _verify_p256(sealed.info.public_key, signature, b"after the move")
    await old.close()
    await new.close()


async def test_untrusted_tampered_and_replayed_migrations_are_refused(cluster: Cluster) -> None:
    old, new = cluster.client(cluster.old), cluster.client(cluster.new)
    other, stranger = cluster.client(cluster.other), cluster.client(cluster.stranger)
    sealed = await old.create_key(KeyKind.SECP256R1, POLICY)
    records = [(sealed.info.key_id, sealed.info.version, sealed.sealed_record)]

    with pytest.raises(AttestationFailed, match="platform key is not a trusted one"):
        await old.migration_export(await stranger.migration_offer(), records)

    export = await old.migration_export(await new.migration_offer(), records)
    tampered = json.loads(json.dumps(export.bundle))
    raw = bytearray(b64decode(tampered["ciphertext"]))
    raw[-1] ^= 1
    tampered["ciphertext"] = b64encode(bytes(raw))
    with pytest.raises(SealedDataInvalid, match="does not open"):
        await new.migration_import(tampered)
    with pytest.raises(SealedDataInvalid, match="no open migration offer"):  # replayed to another enclave
        await other.migration_import(export.bundle)
    relabelled = dict(export.bundle, offer_id=(await other.migration_offer())["offer_id"])
    with pytest.raises((SealedDataInvalid, AttestationFailed)):
        await other.migration_import(relabelled)
    [imported] = await new.migration_import(export.bundle)
    assert imported.info == sealed.info
    with pytest.raises(SealedDataInvalid, match="no open migration offer"):  # replayed to the same one
        await new.migration_import(export.bundle)

    await old.close()
    cluster.old.terminate()  # the old enclave now allows one measurement only, not this code's
    cluster.old.extra["NSL_MIGRATION_ALLOWED_MEASUREMENTS"] = json.dumps(["ab" * 32])
    cluster.old.start()
    old = cluster.client(cluster.old)
    with pytest.raises(AttestationFailed, match="measurement is not in the allow-list"):
        await old.migration_export(await new.migration_offer(), records)
    for client in (old, new, other, stranger):
        await client.close()


def test_cli_migrate_and_the_two_region_flow(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "nsl.db"
    monkeypatch.setenv("NSL_ENV", "test")
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NSL_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", cluster.old.token)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{database}")

    async def prepare() -> list[SealedKey]:
        old = cluster.client(cluster.old)
        created = [await old.create_key(KeyKind.SECP256R1, POLICY) for _ in range(2)]
        await old.close()
        engine = create_engine(settings)
        try:
            await upgrade_to_head(engine)
            await SqlSealedRecordStore(engine).put_records(created)
        finally:
            await engine.dispose()
        return created

    async def stored() -> dict[tuple[str, int], bytes]:
        engine = create_engine(settings)
        try:
            return {(k, v): r for k, v, r in await SqlSealedRecordStore(engine).all_records()}
        finally:
            await engine.dispose()

    created = asyncio.run(prepare())
    runner = CliRunner()
    # the two-region flow: the old side keeps its records; the new side writes a standby record file
    monkeypatch.setenv("NSL_ENCLAVE_SOCKET", str(cluster.new.socket_path))
    offered = runner.invoke(app, ["keys", "migration-offer"])
    assert offered.exit_code == 0, offered.output
    (tmp_path / "offer.json").write_text(offered.stdout)
    monkeypatch.setenv("NSL_ENCLAVE_SOCKET", str(cluster.old.socket_path))
    exported = runner.invoke(app, ["keys", "migration-export", str(tmp_path / "offer.json")])
    assert exported.exit_code == 0, exported.output
    (tmp_path / "bundle.json").write_text(exported.stdout)
    monkeypatch.setenv("NSL_ENCLAVE_SOCKET", str(cluster.new.socket_path))
    standby = tmp_path / "standby-records.json"
    imported = runner.invoke(
        app, ["keys", "migration-import", str(tmp_path / "bundle.json"), "--records-to", str(standby)]
    )
    assert imported.exit_code == 0, imported.output
    assert len(json.loads(imported.stdout)["imported"]) == 2
    assert oct(standby.stat().st_mode & 0o777) == "0o600"
    replay = runner.invoke(app, ["keys", "migration-import", str(tmp_path / "bundle.json")])
    assert replay.exit_code == 1
    assert "no open migration offer" in replay.output

    # one step, from the standby (its record file) back to the first enclave, into the database
    before = asyncio.run(stored())
    moved = runner.invoke(
        app,
        [
            "keys",
            "migrate",
            "--from-socket",
            str(cluster.new.socket_path),
            "--to-socket",
            str(cluster.old.socket_path),
            "--records-from",
            str(standby),
            "--json",
        ],
    )
    assert moved.exit_code == 0, moved.output
    report = json.loads(moved.stdout)  # --json: one document, the counts beside the records
    assert (report["migrated"], report["left_out"], report["stored_in"]) == (len(created), 0, "database")
    assert sorted((r["key_id"], r["version"]) for r in report["imported"]) == sorted(
        (s.info.key_id, s.info.version) for s in created
    )
    after = asyncio.run(stored())
    assert set(after) == set(before) == {(s.info.key_id, s.info.version) for s in created}
    assert all(after[k] != before[k] for k in after)  # re-sealed by the enclave that received them
