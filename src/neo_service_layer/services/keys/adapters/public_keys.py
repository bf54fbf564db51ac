"""Signature verification and address derivation from public keys (``PublicKeyCrypto``).

- secp256r1 and Ed25519 with ``cryptography``; secp256k1 with libsecp256k1 (``coincurve``); BLS12-381
  with pyblst (``enclave.bls.verify``, the same hash-to-curve the enclave signs with).
- Neo N3 address of a secp256r1 key: verification script ``0x0c 0x21 <33-byte key> 0x41 <CheckSig>``
  where CheckSig is the interop hash of ``System.Crypto.CheckSig`` (bytes ``56 e7 b3 27``); script
  hash = RIPEMD-160(SHA-256(script)); address = Base58Check(``0x35`` ‖ script hash).
- EVM address of a secp256k1 key: last 20 bytes of Keccak-256 of the 64-byte uncompressed point,
  written with the EIP-55 mixed-case checksum.
"""

from __future__ import annotations

import hashlib
import struct

import coincurve
from Crypto.Hash import RIPEMD160, keccak
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from pyblst import BlstP1Element

from neo_service_layer.enclave import bls
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import FORMATS_BY_KIND, KeyKind, SignatureFormat
from neo_service_layer.services.keys.ports import KeyAddresses

NEO_ADDRESS_VERSION = 0x35
CHECKSIG_INTEROP = bytes.fromhex("56e7b327")  # System.Crypto.CheckSig, little-endian interop hash
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class InvalidPublicKey(InvalidInput):
    code = "invalid-public-key"


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def neo_verification_script(public_key: bytes) -> bytes:
    if len(public_key) != 33:
        raise InvalidPublicKey("a Neo account needs a 33-byte compressed secp256r1 public key")
    return b"\x0c\x21" + public_key + b"\x41" + CHECKSIG_INTEROP


def neo_script_hash(public_key: bytes) -> bytes:
    """RIPEMD-160(SHA-256(verification script)), in the byte order Neo serialises a UInt160."""
    digest = hashlib.sha256(neo_verification_script(public_key)).digest()
    return RIPEMD160.new(digest).digest()


def neo_address(script_hash: bytes) -> str:
    return base58check(bytes([NEO_ADDRESS_VERSION]) + script_hash)


def eip55(address20: bytes) -> str:
    plain = address20.hex()
    hashed = keccak256(plain.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(plain, hashed[:40], strict=True)
    )


def evm_address(public_key: bytes) -> str:
    uncompressed = coincurve.PublicKey(public_key).format(compressed=False)
    return eip55(keccak256(uncompressed[1:])[-20:])


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _der(signature: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


class PublicKeyOperations:
    """Implements ``ports.keys.PublicKeyCrypto``."""

    def check_public_key(self, kind: KeyKind, public_key: bytes) -> None:
        try:
            match kind:
                case KeyKind.SECP256R1:
                    if len(public_key) != 33:
                        raise ValueError
                    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
                case KeyKind.SECP256K1:
                    if len(public_key) != 33:
                        raise ValueError
                    coincurve.PublicKey(public_key)
                case KeyKind.ED25519:
                    ed25519.Ed25519PublicKey.from_public_bytes(public_key)
                case KeyKind.BLS12_381:
                    if len(public_key) != bls.PUBLIC_KEY_BYTES:
                        raise ValueError
                    BlstP1Element.uncompress(public_key)
        except (ValueError, TypeError):
            raise InvalidPublicKey(f"public_key is not a compressed {kind.value} public key") from None

    def verify(
        self,
        kind: KeyKind,
        fmt: SignatureFormat,
        public_key: bytes,
        message: bytes,
        signature: bytes,
        network_magic: int | None = None,
    ) -> bool:
        if fmt not in FORMATS_BY_KIND[kind]:
            raise InvalidInput(f"format {fmt.value} is not available for {kind.value} keys")
        self.check_public_key(kind, public_key)
        match kind:
            case KeyKind.SECP256R1:
                return _verify_p256(fmt, public_key, message, signature, network_magic)
            case KeyKind.SECP256K1:
                return _verify_k1(fmt, public_key, message, signature)
            case KeyKind.ED25519:
                try:
                    ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
                except InvalidSignature:
                    return False
                return True
            case KeyKind.BLS12_381:
                return bls.verify(public_key, message, signature)

    def addresses(self, kind: KeyKind, public_key: bytes) -> KeyAddresses:
        if kind is KeyKind.SECP256R1:
            script_hash = neo_script_hash(public_key)
            return KeyAddresses(
                neo_address=neo_address(script_hash), neo_script_hash="0x" + script_hash[::-1].hex()
            )
        if kind is KeyKind.SECP256K1:
            return KeyAddresses(evm_address=evm_address(public_key))
        return KeyAddresses()


def _verify_p256(
    fmt: SignatureFormat, public_key: bytes, message: bytes, signature: bytes, network_magic: int | None
) -> bool:
    if len(signature) != 64:
        return False
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    if fmt is SignatureFormat.NEO_TX:
        if network_magic is None or not 0 <= network_magic <= 0xFFFFFFFF or len(message) != 32:
            raise InvalidInput("neo-tx verification needs the 32-byte transaction hash and network_magic")
        data, algorithm = struct.pack("<I", network_magic) + message, ec.ECDSA(hashes.SHA256())
    elif fmt is SignatureFormat.ECDSA_SHA256:
        data, algorithm = message, ec.ECDSA(hashes.SHA256())
    else:
        data, algorithm = keccak256(message), ec.ECDSA(Prehashed(hashes.SHA256()))
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
        return False
    try:
        key.verify(_der(signature), data, algorithm)
    except InvalidSignature:
        return False
    return True


def _verify_k1(fmt: SignatureFormat, public_key: bytes, message: bytes, signature: bytes) -> bool:
    if fmt is SignatureFormat.EVM_DIGEST and len(message) != 32:
        raise InvalidInput("evm-digest verification takes a 32-byte digest")
    hasher = {
        SignatureFormat.EVM_DIGEST: None,
        SignatureFormat.ECDSA_SHA256: _sha256,
    }.get(fmt, keccak256)
    if fmt in (SignatureFormat.EVM_RECOVERABLE, SignatureFormat.EVM_DIGEST):
        if len(signature) != 65 or signature[64] not in (27, 28):
            return False
        try:
            recovered = coincurve.PublicKey.from_signature_and_message(
                signature[:64] + bytes([signature[64] - 27]), message, hasher=hasher
            )
        except (ValueError, TypeError):
            return False
        return bool(recovered.format(compressed=True) == public_key)
    if len(signature) != 64:
        return False
    try:
        return bool(coincurve.PublicKey(public_key).verify(_der(signature), message, hasher=hasher))
    except (ValueError, TypeError):
        return False
