"""Key material per kind and the signature formats each kind produces.

secp256r1 and Ed25519 use ``cryptography`` (ECDSA nonces per RFC 6979); secp256k1 uses libsecp256k1
through ``coincurve`` (RFC 6979, low-s); BLS12-381 uses ``pyblst`` (see ``enclave.bls``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Protocol

import coincurve
from Crypto.Hash import keccak
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from neo_service_layer.enclave import bls
from neo_service_layer.enclave.wire.keys import FORMATS_BY_KIND, InvalidKeyRequest, KeyKind, SignatureFormat

_P256_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_P256_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Signer(Protocol):
    """One private key held in enclave memory."""

    kind: KeyKind
    public_key: bytes

    def secret_bytes(self) -> bytes:
        """The raw private key, for sealing only."""
        ...

    def sign(self, message: bytes, fmt: SignatureFormat, network_magic: int | None) -> bytes: ...


class _P256Signer:
    kind = KeyKind.SECP256R1

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )

    def secret_bytes(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")

    def sign(self, message: bytes, fmt: SignatureFormat, network_magic: int | None) -> bytes:
        if fmt is SignatureFormat.NEO_TX:
            if len(message) != 32:
                raise InvalidKeyRequest("neo-tx signing takes the 32-byte transaction hash")
            der = self._key.sign(struct.pack("<I", _magic(network_magic)) + message, _P256_ECDSA)
        elif fmt is SignatureFormat.ECDSA_SHA256:
            der = self._key.sign(message, _P256_ECDSA)
        else:
            der = self._key.sign(keccak256(message), _P256_PREHASHED)
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class _K1Signer:
    kind = KeyKind.SECP256K1

    def __init__(self, key: coincurve.PrivateKey) -> None:
        self._key = key
        self.public_key = bytes(key.public_key.format(compressed=True))

    def secret_bytes(self) -> bytes:
        return bytes(self._key.secret)

    def sign(self, message: bytes, fmt: SignatureFormat, network_magic: int | None) -> bytes:
        hasher: Callable[[bytes], bytes] | None
        if fmt is SignatureFormat.EVM_DIGEST:
            if len(message) != 32:
                raise InvalidKeyRequest("evm-digest signing takes a 32-byte digest")
            hasher = None
        elif fmt is SignatureFormat.ECDSA_SHA256:
            hasher = _sha256
        else:
            hasher = keccak256
        raw = bytes(self._key.sign_recoverable(message, hasher=hasher))
        if fmt in (SignatureFormat.EVM_RECOVERABLE, SignatureFormat.EVM_DIGEST):
            return raw[:64] + bytes([27 + raw[64]])
        return raw[:64]


class _Ed25519Signer:
    kind = KeyKind.ED25519

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key().public_bytes_raw()

    def secret_bytes(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, message: bytes, fmt: SignatureFormat, network_magic: int | None) -> bytes:
        return self._key.sign(message)


class _BlsSigner:
    kind = KeyKind.BLS12_381

    def __init__(self, scalar: int) -> None:
        self._scalar = scalar
        self.public_key = bls.public_key(scalar)

    def secret_bytes(self) -> bytes:
        return bls.secret_to_bytes(self._scalar)

    def sign(self, message: bytes, fmt: SignatureFormat, network_magic: int | None) -> bytes:
        return bls.sign(self._scalar, message)


def generate(kind: KeyKind) -> Signer:
    """A fresh key of ``kind`` from the operating system's CSPRNG."""
    match kind:
        case KeyKind.SECP256R1:
            return _P256Signer(ec.generate_private_key(ec.SECP256R1()))
        case KeyKind.SECP256K1:
            return _K1Signer(coincurve.PrivateKey())
        case KeyKind.ED25519:
            return _Ed25519Signer(ed25519.Ed25519PrivateKey.generate())
        case KeyKind.BLS12_381:
            return _BlsSigner(bls.generate_secret())


def from_secret(kind: KeyKind, secret: bytes) -> Signer:
    """Rebuild a signer from ``secret_bytes()``; raises ``ValueError`` if the bytes are not a key."""
    if len(secret) != 32:
        raise ValueError("private key must be 32 bytes")
    match kind:
        case KeyKind.SECP256R1:
            return _P256Signer(ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1()))
        case KeyKind.SECP256K1:
            return _K1Signer(coincurve.PrivateKey(secret))
        case KeyKind.ED25519:
            return _Ed25519Signer(ed25519.Ed25519PrivateKey.from_private_bytes(secret))
        case KeyKind.BLS12_381:
            return _BlsSigner(bls.secret_from_bytes(secret))


def check_format(kind: KeyKind, fmt: SignatureFormat, network_magic: int | None) -> None:
    """Refuse a format the key kind cannot produce, and a network magic where none belongs."""
    if fmt not in FORMATS_BY_KIND[kind]:
        raise InvalidKeyRequest(f"format {fmt.value} is not available for {kind.value} keys")
    if fmt is SignatureFormat.NEO_TX:
        _magic(network_magic)
    elif network_magic is not None:
        raise InvalidKeyRequest("network_magic applies to the neo-tx format only")


def _magic(network_magic: int | None) -> int:
    if network_magic is None or not 0 <= network_magic <= 0xFFFFFFFF:
        raise InvalidKeyRequest("neo-tx signing needs network_magic between 0 and 2^32-1")
    return network_magic
