"""Attested key migration in process: three simulated enclaves with their own sealing secrets."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave import attestation
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.migration import (
    EXPORT_PURPOSE,
    KeyMigration,
    MigrationPolicy,
    RecordToExport,
    export_nonce,
)
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
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

POLICY = KeyPolicy.of("acme", [Purpose.MESSAGE, Purpose.ORACLE], max_signs_per_minute=1000)


@dataclass
class Node:
    platform: SimulationPlatform
    keys: KeyStore
    migration: KeyMigration


def _node(directory: Path, trusted: list[bytes] | None = None, **policy: Any) -> Node:
    platform = SimulationPlatform(directory)
    sealer = Sealer(platform.sealing_secret())
    keys = KeyStore(sealer, Revocations(sealer, None, grace_seconds=0))
    rules = MigrationPolicy(
        accept_simulation=True, simulation_platform_keys=frozenset(trusted or ()), **policy
    )
    return Node(platform, keys, KeyMigration(platform, keys, rules))


@pytest.fixture
def nodes(tmp_path: Path) -> tuple[Node, Node, Node]:
    """Old enclave A and new enclaves B and D, each trusting the other two's platform keys."""
    platforms = {name: SimulationPlatform(tmp_path / name) for name in "abd"}
    pubs = {name: p.platform_public_key for name, p in platforms.items()}
    return (
        _node(tmp_path / "a", [pubs["b"], pubs["d"]]),
        _node(tmp_path / "b", [pubs["a"]]),
        _node(tmp_path / "d", [pubs["a"]]),
    )


def _records(*sealed: SealedKey) -> list[RecordToExport]:
    return [RecordToExport(s.info.key_id, s.info.version, s.sealed_record) for s in sealed]


def _sign(node: Node, key_id: str) -> bytes:
    fmt = SignatureFormat.ED25519
    return node.keys.sign(key_id, [b"m"], tenant="acme", purpose=Purpose.MESSAGE, fmt=fmt)[0]


def test_keys_move_with_policy_and_versions_and_are_resealed(nodes: tuple[Node, Node, Node]) -> None:
    a, b, _ = nodes
    p256 = a.keys.create(KeyKind.SECP256R1, POLICY)
    rotated = a.keys.rotate(p256.info.key_id, "acme")
    ed = a.keys.create(KeyKind.ED25519, POLICY)
    offer = b.migration.offer()
    result = a.migration.export(offer, _records(p256, rotated, ed))
    assert result["skipped"] == []
    assert sorted((e["key_id"], e["version"]) for e in result["exported"]) == sorted(
        [(p256.info.key_id, 1), (p256.info.key_id, 2), (ed.info.key_id, 1)]
    )
    imported = {(s.info.key_id, s.info.version): s for s in b.migration.import_bundle(result["bundle"])}
    for original in (p256, rotated, ed):
        new = imported[(original.info.key_id, original.info.version)]
        assert new.info == original.info  # id, version, kind, public key, tenant
        assert new.sealed_record != original.sealed_record
        with pytest.raises(SealedDataInvalid):  # B's sealing key differs from A's
            b.keys.load(original.info.key_id, original.sealed_record)
        assert b.keys.load(new.info.key_id, new.sealed_record) == new.info
    assert _sign(b, ed.info.key_id) == _sign(a, ed.info.key_id)  # Ed25519 is deterministic
    assert b.keys.info(p256.info.key_id).public_key == rotated.info.public_key
    with pytest.raises(Exception, match="another tenant"):
        b.keys.sign(
            ed.info.key_id, [b"m"], tenant="evil", purpose=Purpose.MESSAGE, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(Exception, match="purpose"):
        b.keys.sign(
            ed.info.key_id, [b"m"], tenant="acme", purpose=Purpose.NEO_TX, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(SealedDataInvalid, match="no open migration offer"):  # the offer is gone
        b.migration.import_bundle(result["bundle"])


def test_revoked_and_foreign_records_are_not_exported(nodes: tuple[Node, Node, Node]) -> None:
    a, b, d = nodes
    kept = a.keys.create(KeyKind.SECP256R1, POLICY)
    disabled = a.keys.create(KeyKind.SECP256R1, POLICY)
    [disabled_record] = a.keys.disable(disabled.info.key_id, "acme")
    destroyed = a.keys.create(KeyKind.SECP256R1, POLICY)
    a.keys.disable(destroyed.info.key_id, "acme")
    a.keys.destroy(destroyed.info.key_id, "acme")
    foreign = d.keys.create(KeyKind.SECP256R1, POLICY)
    result = a.migration.export(b.migration.offer(), _records(kept, disabled_record, destroyed, foreign))
    reasons = {s["key_id"]: s["reason"] for s in result["skipped"]}
    assert reasons == {
        disabled.info.key_id: "revoked (disabled or destroyed)",
        destroyed.info.key_id: "revoked (disabled or destroyed)",
        foreign.info.key_id: "does not unseal in this enclave",
    }
    assert [k["key_id"] for k in result["bundle"]["keys"]] == [kept.info.key_id]
    assert [s.info.key_id for s in b.migration.import_bundle(result["bundle"])] == [kept.info.key_id]


def test_untrusted_new_enclaves_get_nothing(tmp_path: Path, nodes: tuple[Node, Node, Node]) -> None:
    a, b, _ = nodes
    stranger = _node(tmp_path / "stranger", [a.platform.platform_public_key])
    record = _records(a.keys.create(KeyKind.SECP256R1, POLICY))
    with pytest.raises(AttestationFailed, match="platform key is not a trusted one"):
        a.migration.export(stranger.migration.offer(), record)
    strict = KeyMigration(a.platform, a.keys, MigrationPolicy())  # simulation not accepted
    with pytest.raises(AttestationFailed, match="simulation reports are not accepted"):
        strict.export(b.migration.offer(), record)
    pinned = KeyMigration(
        a.platform,
        a.keys,
        MigrationPolicy(
            allowed_measurements=frozenset({"ab" * 32}),
            accept_simulation=True,
            simulation_platform_keys=frozenset({b.platform.platform_public_key}),
        ),
    )
    with pytest.raises(AttestationFailed, match="measurement is not in the allow-list"):
        pinned.export(b.migration.offer(), record)
    offer = b.migration.offer()
    offer["public_key"] = os.urandom(32).hex()  # swap in a key whose private half the host holds
    with pytest.raises(AttestationFailed, match="report data does not bind"):
        a.migration.export(offer, record)
    plain = b.migration.offer()
    plain["report"] = attestation.build_report(b.platform, [], os.urandom(32))  # an ``attest`` report
    with pytest.raises(AttestationFailed):
        a.migration.export(plain, record)


def _tamper(bundle: dict[str, Any], field: str) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    if field == "ciphertext":
        raw = bytearray(b64decode(changed["ciphertext"]))
        raw[5] ^= 1
        changed["ciphertext"] = b64encode(bytes(raw))
    elif field == "keys":
        changed["keys"][0]["tenant"] = "evil"
    elif field == "nonce":
        changed["nonce"] = os.urandom(12).hex()
    elif field == "exporter_public_key":
        changed["exporter_public_key"] = os.urandom(32).hex()
    elif field == "exporter_report":
        changed["exporter_report"]["report_data"] = os.urandom(64).hex()
    return changed


@pytest.mark.parametrize("field", ["ciphertext", "keys", "nonce", "exporter_public_key", "exporter_report"])
def test_tampered_bundles_are_refused_and_the_offer_stays_open(
    nodes: tuple[Node, Node, Node], field: str
) -> None:
    a, b, _ = nodes
    sealed = a.keys.create(KeyKind.SECP256R1, POLICY)
    bundle = a.migration.export(b.migration.offer(), _records(sealed))["bundle"]
    with pytest.raises((SealedDataInvalid, AttestationFailed)):
        b.migration.import_bundle(_tamper(bundle, field))
    assert len(b.keys) == 0
    [imported] = b.migration.import_bundle(bundle)  # the genuine bundle still opens
    assert imported.info == sealed.info


def test_a_bundle_opens_only_in_the_enclave_that_made_the_offer(nodes: tuple[Node, Node, Node]) -> None:
    a, b, d = nodes
    sealed = a.keys.create(KeyKind.SECP256R1, POLICY)
    bundle = a.migration.export(b.migration.offer(), _records(sealed))["bundle"]
    with pytest.raises(SealedDataInvalid, match="no open migration offer"):
        d.migration.import_bundle(bundle)
    relabelled = dict(bundle, offer_id=d.migration.offer()["offer_id"])  # D's own open offer
    with pytest.raises((SealedDataInvalid, AttestationFailed)):
        d.migration.import_bundle(relabelled)
    assert len(d.keys) == 0


def test_keys_cannot_be_pushed_into_an_enclave_without_an_attested_exporter(
    tmp_path: Path, nodes: tuple[Node, Node, Node]
) -> None:
    """The host knows the offer's public key; a bundle it makes itself lacks a trusted export report."""
    a, b, _ = nodes
    forger = _node(tmp_path / "forger", [b.platform.platform_public_key])  # a platform B does not trust
    own = forger.keys.create(KeyKind.SECP256R1, POLICY)
    offer = b.migration.offer()
    bundle = forger.migration.export(offer, _records(own))["bundle"]
    with pytest.raises(AttestationFailed, match="exporting enclave is not trusted"):
        b.migration.import_bundle(bundle)
    # an ``attest`` report over the export nonce is not an export report either
    nonce = export_nonce(offer["offer_id"], offer["report"]["report_data"], os.urandom(32).hex(), [])
    assert (
        attestation.build_report(a.platform, [], nonce)["report_data"]
        != (attestation.build_report(a.platform, [], nonce, purpose=EXPORT_PURPOSE)["report_data"])
    )
