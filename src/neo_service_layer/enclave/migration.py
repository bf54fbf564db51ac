"""Attested key migration: how keys reach a new enclave when the machine that sealed them is lost.

Sealed records only open where the same sealing key can be derived (simulation: the same
``sealing.secret``; SGX: the same MRENCLAVE on the same CPU). Three operations move keys to an enclave
with another sealing key without any key ever leaving an enclave in the clear:

1. ``migration_offer`` (new enclave): a fresh X25519 key pair, kept in memory only, and a report whose
   report data binds its public key (purpose ``key-migration-offer``).
2. ``migration_export`` (old enclave, or a surviving replica): checks the offer's report against its
   *own* migration policy (measurement allow-list, simulation only when configured), opens the given
   sealed records, refuses disabled and destroyed keys, and encrypts the rest to the offer's key:
   X25519 with a fresh key of its own, HKDF-SHA256, AES-256-GCM. The associated data binds the offer id,
   both reports' report data and every (key id, version, kind, tenant, public key). Its own report
   (purpose ``key-migration-export``) binds its X25519 public key, the offer and that key list.
3. ``migration_import`` (new enclave): checks the exporter's report against its policy (so nobody can
   push keys of their own choosing into it), decrypts with the offer's private key, checks each key
   against the bound list, re-seals it under its own sealing key, holds it, and forgets the offer.

Report purposes are outside the reach of ``attest`` (its callers choose only the nonce), so an
ordinary attestation report cannot stand in for an offer or an export.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neo_service_layer.enclave import attestation
from neo_service_layer.enclave.keystore import KeyStore, MigrationMaterial
from neo_service_layer.enclave.platforms import REPORT_DATA_BYTES, Platform, SimulationPlatform
from neo_service_layer.enclave.sgx_quote import QuoteFormatError, parse_quote
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode, canonical_json
from neo_service_layer.enclave.wire.keys import (
    AttestationFailed,
    InvalidKeyRequest,
    KeyDisabled,
    KeyKind,
    KeyPolicy,
    SealedDataInvalid,
    SealedKey,
)

OFFER_FORMAT = "nsl-key-migration-offer/1"
BUNDLE_FORMAT = "nsl-key-migration-bundle/1"
OFFER_PURPOSE = "key-migration-offer"
EXPORT_PURPOSE = "key-migration-export"
#: key records per bundle (the RPC frame limit is 1 MiB)
MAX_RECORDS = 200
MAX_OPEN_OFFERS = 8
OFFER_TTL_SECONDS = 3600.0
_HKDF_INFO = b"nsl/key-migration/v1"
_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class MigrationPolicy:
    """Which peers this enclave gives keys to and takes keys from (part of its trusted config).

    ``allowed_measurements`` empty means: this enclave's own measurement only (the same code).
    Simulated peers are refused unless ``accept_simulation``, and then only with a platform key in
    ``simulation_platform_keys``.
    """

    allowed_measurements: frozenset[str] = frozenset()
    accept_simulation: bool = False
    simulation_platform_keys: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class RecordToExport:
    key_id: str
    version: int | None
    sealed_record: bytes = field(repr=False)


@dataclass(slots=True)
class _Offer:
    private_key: X25519PrivateKey
    report_data: str
    created: float


def platform_measurement(platform: Platform) -> str:
    """This enclave's measurement (hex): simulated, or MRENCLAVE from a quote of its own."""
    if isinstance(platform, SimulationPlatform):
        return platform.measurement
    evidence = platform.evidence(bytes(REPORT_DATA_BYTES))
    try:
        return parse_quote(b64decode(str(evidence["quote"]))).mr_enclave.hex()
    except (KeyError, ValueError, QuoteFormatError):
        raise AttestationFailed("cannot read this enclave's own measurement") from None


def _x25519_public(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def _digest(document: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(dict(document))).digest()


def offer_nonce(offer_id: str, public_key_hex: str) -> bytes:
    return _digest({"format": OFFER_FORMAT, "offer_id": offer_id, "public_key": public_key_hex})


def export_nonce(
    offer_id: str, offer_report_data: str, exporter_public_key: str, keys: Sequence[Mapping[str, Any]]
) -> bytes:
    return _digest(
        {
            "format": BUNDLE_FORMAT,
            "offer_id": offer_id,
            "offer_report_data": offer_report_data,
            "exporter_public_key": exporter_public_key,
            "keys": list(keys),
        }
    )


def _associated_data(
    offer_id: str, offer_report_data: str, exporter_report_data: str, keys: Sequence[Mapping[str, Any]]
) -> bytes:
    return canonical_json(
        {
            "format": BUNDLE_FORMAT,
            "offer_id": offer_id,
            "offer_report_data": offer_report_data,
            "exporter_report_data": exporter_report_data,
            "keys": list(keys),
        }
    )


def _aead(
    private: X25519PrivateKey, peer_public: bytes, offer_public: bytes, exporter_public: bytes
) -> AESGCM:
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        raise SealedDataInvalid("migration key exchange failed") from None
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=offer_public + exporter_public, info=_HKDF_INFO)
    return AESGCM(key.derive(shared))


def _bound(material: MigrationMaterial) -> dict[str, Any]:
    return {
        "key_id": material.key_id,
        "version": material.version,
        "kind": material.kind.value,
        "tenant": material.policy.tenant,
        "public_key": material.public_key.hex(),
    }


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise InvalidKeyRequest(f"migration document field {name!r} is missing or not text")
    return value


class KeyMigration:
    """The three migration operations of one enclave; open offers live in memory only."""

    def __init__(
        self,
        platform: Platform,
        keys: KeyStore,
        policy: MigrationPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._platform = platform
        self._keys = keys
        self._policy = policy
        self._clock = clock
        self._offers: OrderedDict[str, _Offer] = OrderedDict()
        self._measurement: str | None = None

    # 1. new enclave -----------------------------------------------------------------------------

    def offer(self) -> dict[str, Any]:
        """A fresh offer; its private key never leaves this process and is forgotten after import."""
        self._expire()
        while len(self._offers) >= MAX_OPEN_OFFERS:
            self._offers.popitem(last=False)
        private = X25519PrivateKey.generate()
        offer_id = secrets.token_hex(16)
        public_hex = _x25519_public(private).hex()
        report = attestation.build_report(
            self._platform, [], offer_nonce(offer_id, public_hex), purpose=OFFER_PURPOSE
        )
        self._offers[offer_id] = _Offer(private, str(report["report_data"]), self._clock())
        return {"format": OFFER_FORMAT, "offer_id": offer_id, "public_key": public_hex, "report": report}

    # 2. old enclave -----------------------------------------------------------------------------

    def export(self, offer: Mapping[str, Any], records: Sequence[RecordToExport]) -> dict[str, Any]:
        """Encrypt the keys of ``records`` to an attested, allow-listed offer.

        Returns the bundle, the exported (key id, version) pairs and the skipped ones with a reason
        (revoked, or not sealed by this enclave). Raises ``AttestationFailed`` for an untrusted offer.
        """
        if len(records) > MAX_RECORDS:
            raise InvalidKeyRequest(f"at most {MAX_RECORDS} records per migration bundle")
        if offer.get("format") != OFFER_FORMAT:
            raise InvalidKeyRequest("not a key migration offer")
        offer_id, offer_public_hex = _text(offer, "offer_id"), _text(offer, "public_key")
        report = offer.get("report")
        if not isinstance(report, Mapping):
            raise InvalidKeyRequest("the offer carries no report")
        self._check_peer(report, offer_nonce(offer_id, offer_public_hex), OFFER_PURPOSE, "new")
        try:
            offer_public = bytes.fromhex(offer_public_hex)
        except ValueError:
            raise InvalidKeyRequest("the offer's public key is not hex") from None
        materials: list[MigrationMaterial] = []
        skipped: list[dict[str, Any]] = []
        for record in records:
            try:
                materials.append(self._keys.export_material(record.key_id, record.sealed_record))
            except KeyDisabled:
                reason = "revoked (disabled or destroyed)"
                skipped.append({"key_id": record.key_id, "version": record.version, "reason": reason})
            except (SealedDataInvalid, InvalidKeyRequest):
                reason = "does not unseal in this enclave"
                skipped.append({"key_id": record.key_id, "version": record.version, "reason": reason})
        materials.sort(key=lambda m: (m.key_id, m.version))
        bound = [_bound(m) for m in materials]
        private = X25519PrivateKey.generate()
        exporter_public = _x25519_public(private)
        offer_report_data = str(report["report_data"])
        own_report = attestation.build_report(
            self._platform,
            [],
            export_nonce(offer_id, offer_report_data, exporter_public.hex(), bound),
            purpose=EXPORT_PURPOSE,
        )
        plaintext = canonical_json(
            [{**_bound(m), "secret": m.secret.hex(), "policy": m.policy.to_dict()} for m in materials]
        )
        aad = _associated_data(offer_id, offer_report_data, str(own_report["report_data"]), bound)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = _aead(private, offer_public, offer_public, exporter_public).encrypt(
            nonce, plaintext, aad
        )
        bundle = {
            "format": BUNDLE_FORMAT,
            "offer_id": offer_id,
            "offer_report_data": offer_report_data,
            "exporter_public_key": exporter_public.hex(),
            "exporter_report": own_report,
            "keys": bound,
            "nonce": nonce.hex(),
            "ciphertext": b64encode(ciphertext),
        }
        exported = [{"key_id": m.key_id, "version": m.version} for m in materials]
        return {"bundle": bundle, "exported": exported, "skipped": skipped}

    # 3. new enclave -----------------------------------------------------------------------------

    def import_bundle(self, bundle: Mapping[str, Any]) -> list[SealedKey]:
        """Decrypt a bundle made for one of this enclave's open offers and re-seal every key in it."""
        if bundle.get("format") != BUNDLE_FORMAT:
            raise InvalidKeyRequest("not a key migration bundle")
        self._expire()
        offer_id = _text(bundle, "offer_id")
        offer = self._offers.get(offer_id)
        if offer is None:
            raise SealedDataInvalid(
                "no open migration offer with this id in this enclave (made for another enclave, "
                "already imported, expired, or this enclave restarted since the offer)"
            )
        keys = bundle.get("keys")
        exporter_report = bundle.get("exporter_report")
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise InvalidKeyRequest("bundle keys must be a list of objects")
        if not isinstance(exporter_report, Mapping):
            raise InvalidKeyRequest("the bundle carries no exporter report")
        exporter_public_hex = _text(bundle, "exporter_public_key")
        nonce = export_nonce(offer_id, offer.report_data, exporter_public_hex, keys)
        self._check_peer(exporter_report, nonce, EXPORT_PURPOSE, "exporting")
        try:
            exporter_public = bytes.fromhex(exporter_public_hex)
            gcm_nonce = bytes.fromhex(_text(bundle, "nonce"))
            ciphertext = b64decode(_text(bundle, "ciphertext"))
        except ValueError:
            raise InvalidKeyRequest("bundle fields are not hex / base64") from None
        aad = _associated_data(offer_id, offer.report_data, str(exporter_report["report_data"]), keys)
        offer_public = _x25519_public(offer.private_key)
        try:
            plaintext = _aead(offer.private_key, exporter_public, offer_public, exporter_public).decrypt(
                gcm_nonce, ciphertext, aad
            )
        except (InvalidTag, ValueError):
            raise SealedDataInvalid(
                "the migration bundle does not open: tampered, or not for this offer"
            ) from None
        materials = _materials(plaintext, keys)
        imported = [self._keys.import_material(m) for m in materials]
        del self._offers[offer_id]
        return imported

    # internals ----------------------------------------------------------------------------------

    def _check_peer(self, report: Mapping[str, Any], nonce: bytes, purpose: str, role: str) -> None:
        verdict = attestation.verify_report(
            report,
            nonce=nonce,
            allowed_measurements=self._allowed(),
            accept_simulation=self._policy.accept_simulation,
            simulation_platform_keys=self._policy.simulation_platform_keys,
            purpose=purpose,
        )
        if not verdict.ok:
            raise AttestationFailed(
                f"the {role} enclave is not trusted for key migration: " + "; ".join(verdict.problems)
            )

    def _allowed(self) -> Collection[str]:
        if self._policy.allowed_measurements:
            return self._policy.allowed_measurements
        if self._measurement is None:
            self._measurement = platform_measurement(self._platform)
        return {self._measurement}

    def _expire(self) -> None:
        limit = self._clock() - OFFER_TTL_SECONDS
        for offer_id in [i for i, o in self._offers.items() if o.created < limit]:
            del self._offers[offer_id]


def _materials(plaintext: bytes, bound: list[dict[str, Any]]) -> list[MigrationMaterial]:
    """Parse decrypted key material and check it is exactly the bound key list, in order."""
    try:
        items = json.loads(plaintext)
        materials = [
            MigrationMaterial(
                key_id=str(item["key_id"]),
                version=int(item["version"]),
                kind=KeyKind(item["kind"]),
                public_key=bytes.fromhex(item["public_key"]),
                secret=bytes.fromhex(item["secret"]),
                policy=KeyPolicy.from_dict(item["policy"]),
            )
            for item in items
        ]
    except (ValueError, KeyError, TypeError, InvalidKeyRequest):
        raise SealedDataInvalid("migrated key material is malformed") from None
    if [_bound(m) for m in materials] != bound:
        raise SealedDataInvalid("migrated keys differ from the keys the exporter attested")
    return materials
