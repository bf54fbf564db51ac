"""AES-256-GCM sealing under keys derived from the platform's sealing secret.

Every blob is bound, through the GCM associated data, to its use (caller data, key record, enclave
state), a format version and a context (tenant and label, or key id, version and tenant). A blob that
is edited, truncated, moved to another context or sealed by another enclave identity fails to open
with ``SealedDataInvalid``; the message never says which part differed.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neo_service_layer.enclave.wire.encoding import canonical_json
from neo_service_layer.enclave.wire.keys import SealedDataInvalid

SEAL_FORMAT = 1
_BLOB_MAGIC = b"NSL" + bytes([SEAL_FORMAT])
_RECORD_MAGIC = b"NSK" + bytes([SEAL_FORMAT])
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HKDF_SALT = b"neo-service-layer/sealing"
MIN_SECRET_BYTES = 16

Context = Mapping[str, str | int]


class SealUse(StrEnum):
    """Distinct uses get distinct derived keys (HKDF ``info``) and distinct associated data."""

    DATA = "data"
    KEY_RECORD = "key-record"
    ENCLAVE_STATE = "enclave-state"


class Sealer:
    """Seals and opens blobs with per-use AES-256-GCM keys derived from one platform secret."""

    def __init__(self, sealing_secret: bytes) -> None:
        if len(sealing_secret) < MIN_SECRET_BYTES:
            raise ValueError(f"sealing secret must be at least {MIN_SECRET_BYTES} bytes")
        self._keys = {use: _derive(sealing_secret, use) for use in SealUse}
        self._aead = {use: AESGCM(key) for use, key in self._keys.items()}

    def use_key(self, use: SealUse) -> bytes:
        """The derived key of one use, for the enclave's own worker processes (``single_use``)."""
        return self._keys[use]

    @classmethod
    def single_use(cls, use: SealUse, key: bytes) -> Sealer:
        """A sealer holding only ``use``'s derived key: a compute worker process opens the compiled
        artefacts (``ENCLAVE_STATE``) and nothing else."""
        sealer = cls.__new__(cls)
        sealer._keys = {use: key}
        sealer._aead = {use: AESGCM(key)}
        return sealer

    def _aead_of(self, use: SealUse) -> AESGCM:
        aead = self._aead.get(use)
        if aead is None:
            raise SealedDataInvalid(f"this sealer holds no key for {use.value}")
        return aead

    def seal(self, use: SealUse, context: Context, plaintext: bytes) -> bytes:
        """Encrypt ``plaintext`` bound to ``use`` and ``context``: magic ‖ nonce ‖ ciphertext+tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return _BLOB_MAGIC + nonce + self._aead_of(use).encrypt(nonce, plaintext, _aad(use, context))

    def unseal(self, use: SealUse, context: Context, blob: bytes) -> bytes:
        """Inverse of ``seal`` for the same use and context; anything else raises ``SealedDataInvalid``."""
        if len(blob) < len(_BLOB_MAGIC) + _NONCE_BYTES + _TAG_BYTES or not blob.startswith(_BLOB_MAGIC):
            raise SealedDataInvalid("sealed blob is malformed")
        nonce = blob[len(_BLOB_MAGIC) : len(_BLOB_MAGIC) + _NONCE_BYTES]
        body = blob[len(_BLOB_MAGIC) + _NONCE_BYTES :]
        try:
            return self._aead_of(use).decrypt(nonce, body, _aad(use, context))
        except InvalidTag:
            raise SealedDataInvalid("sealed blob does not open in this context") from None

    def seal_record(self, header: Mapping[str, Any], payload: bytes) -> bytes:
        """A key record: readable header (authenticated, not secret) ‖ payload sealed to that header."""
        header_bytes = canonical_json(dict(header))
        if len(header_bytes) > 0xFFFF:
            raise ValueError("record header too large")
        sealed = self.seal(SealUse.KEY_RECORD, {"header": header_bytes.hex()}, payload)
        return _RECORD_MAGIC + struct.pack(">H", len(header_bytes)) + header_bytes + sealed

    def open_record(self, record: bytes) -> tuple[dict[str, Any], bytes]:
        """Return (header, payload) of a record made by ``seal_record``; raises ``SealedDataInvalid``."""
        header = read_record_header(record)
        start = len(_RECORD_MAGIC) + 2 + struct.unpack(">H", record[4:6])[0]
        header_bytes = record[len(_RECORD_MAGIC) + 2 : start]
        payload = self.unseal(SealUse.KEY_RECORD, {"header": header_bytes.hex()}, record[start:])
        return header, payload


def read_record_header(record: bytes) -> dict[str, Any]:
    """The header of a sealed key record without opening it (not yet authenticated!)."""
    if len(record) < len(_RECORD_MAGIC) + 2 or not record.startswith(_RECORD_MAGIC):
        raise SealedDataInvalid("sealed key record is malformed")
    (length,) = struct.unpack(">H", record[4:6])
    header_bytes = record[6 : 6 + length]
    if len(header_bytes) != length:
        raise SealedDataInvalid("sealed key record is truncated")
    try:
        header = json.loads(header_bytes)
    except ValueError:
        raise SealedDataInvalid("sealed key record header is malformed") from None
    if not isinstance(header, dict) or canonical_json(header) != header_bytes:
        raise SealedDataInvalid("sealed key record header is malformed")
    return header


def _derive(secret: bytes, use: SealUse) -> bytes:
    info = f"nsl/seal/{use.value}/v{SEAL_FORMAT}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret)


def _aad(use: SealUse, context: Context) -> bytes:
    return canonical_json({"fmt": SEAL_FORMAT, "use": use.value, "context": dict(context)})
