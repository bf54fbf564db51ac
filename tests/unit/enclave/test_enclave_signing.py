"""Every signature format, checked with libraries other than the one that made it where possible."""

from __future__ import annotations

import hashlib
import struct

import coincurve
import pytest
from Crypto.Hash import keccak
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from eth_keys import keys as eth
from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from neo_service_layer.enclave import bls, signing
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest, KeyKind, SignatureFormat

MESSAGE = b"neo service layer says hello"
TX_HASH = bytes(range(32))


def _k(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))


def _p256_public(signer: signing.Signer) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), signer.public_key)


def test_p256_neo_tx_signs_magic_and_hash() -> None:
    signer = signing.generate(KeyKind.SECP256R1)
    assert len(signer.public_key) == 33
    assert signer.public_key[0] in (2, 3)
    sig = signer.sign(TX_HASH, SignatureFormat.NEO_TX, 860833102)
    assert len(sig) == 64
    signed = struct.pack("<I", 860833102) + TX_HASH
    _p256_public(signer).verify(_der(sig), signed, ec.ECDSA(hashes.SHA256()))


def test_p256_is_deterministic_rfc6979() -> None:
    signer = signing.generate(KeyKind.SECP256R1)
    first = signer.sign(MESSAGE, SignatureFormat.ECDSA_SHA256, None)
    assert first == signer.sign(MESSAGE, SignatureFormat.ECDSA_SHA256, None)
    _p256_public(signer).verify(_der(first), MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_p256_keccak() -> None:
    signer = signing.generate(KeyKind.SECP256R1)
    sig = signer.sign(MESSAGE, SignatureFormat.ECDSA_KECCAK256, None)
    _p256_public(signer).verify(_der(sig), _k(MESSAGE), ec.ECDSA(Prehashed(hashes.SHA256())))


def test_neo_tx_needs_32_byte_hash() -> None:
    signer = signing.generate(KeyKind.SECP256R1)
    with pytest.raises(InvalidKeyRequest):
        signer.sign(b"short", SignatureFormat.NEO_TX, 42)


def test_k1_evm_signature_recovers_to_key_address() -> None:
    signer = signing.generate(KeyKind.SECP256K1)
    sig = signer.sign(MESSAGE, SignatureFormat.EVM_RECOVERABLE, None)
    assert len(sig) == 65
    assert sig[64] in (27, 28)
    public = eth.PublicKey(coincurve.PublicKey(signer.public_key).format(compressed=False)[1:])
    recovered = eth.Signature(sig[:64] + bytes([sig[64] - 27])).recover_public_key_from_msg_hash(_k(MESSAGE))
    assert recovered.to_checksum_address() == public.to_checksum_address()
    s = int.from_bytes(sig[32:64], "big")
    assert s <= 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2  # low-s


def test_k1_evm_digest() -> None:
    signer = signing.generate(KeyKind.SECP256K1)
    digest = hashlib.sha256(b"tx").digest()
    sig = signer.sign(digest, SignatureFormat.EVM_DIGEST, None)
    recovered = eth.Signature(sig[:64] + bytes([sig[64] - 27])).recover_public_key_from_msg_hash(digest)
    assert recovered.to_compressed_bytes() == signer.public_key
    with pytest.raises(InvalidKeyRequest):
        signer.sign(b"not a digest", SignatureFormat.EVM_DIGEST, None)


@pytest.mark.parametrize(
    ("fmt", "digest"),
    [
        (SignatureFormat.ECDSA_SHA256, hashlib.sha256(MESSAGE).digest()),
        (SignatureFormat.ECDSA_KECCAK256, _k(MESSAGE)),
    ],
)
def test_k1_plain_ecdsa_for_neo_verify_with_ecdsa(fmt: SignatureFormat, digest: bytes) -> None:
    signer = signing.generate(KeyKind.SECP256K1)
    sig = signer.sign(MESSAGE, fmt, None)
    assert len(sig) == 64
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), signer.public_key)
    public.verify(_der(sig), digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_ed25519() -> None:
    signer = signing.generate(KeyKind.ED25519)
    sig = signer.sign(MESSAGE, SignatureFormat.ED25519, None)
    ed25519.Ed25519PublicKey.from_public_bytes(signer.public_key).verify(sig, MESSAGE)


def test_bls_signature_passes_the_on_chain_pairing_check() -> None:
    signer = signing.generate(KeyKind.BLS12_381)
    sig = signer.sign(MESSAGE, SignatureFormat.BLS, None)
    assert len(signer.public_key) == 48
    assert len(sig) == 96
    # What the contract does with CryptoLib: e(pk, H(m)) == e(G1, sig), H(m) given compressed.
    hashed = BlstP2Element.uncompress(bls.message_point(MESSAGE))
    g1 = BlstP1Element.uncompress(bls.G1_GENERATOR)
    left = miller_loop(BlstP1Element.uncompress(signer.public_key), hashed)
    assert final_verify(left, miller_loop(g1, BlstP2Element.uncompress(sig)))
    assert bls.verify(signer.public_key, MESSAGE, sig)
    assert not bls.verify(signer.public_key, MESSAGE + b"!", sig)
    assert not bls.verify(signer.public_key, MESSAGE, bytes([0xC0]) + bytes(95))


def test_bls_hash_to_curve_matches_rfc9380_vector() -> None:
    # RFC 9380 J.10.1, BLS12381G2_XMD:SHA-256_SSWU_RO_, msg = "": P.x = x0 + x1 * I
    x0 = "0141ebfbdca40eb85b87142e130ab689c673cf60f1a3e98d69335266f30d9b8d4ac44c1038e9dcdd5393faf5c41fb78a"
    x1 = "05cb8437535e20ecffaef7752baddf98034139c38452458baeefab379ba13dff5bf5dd71b72418717047f5b0f37da03d"
    point = BlstP2Element.hash_to_group(b"", b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_").compress()
    encoded = bytearray(point)
    encoded[0] &= 0x1F
    assert encoded.hex() == x1 + x0
    assert bls.BLS_DST == b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"


@pytest.mark.parametrize("kind", list(KeyKind))
def test_secret_roundtrip_keeps_public_key(kind: KeyKind) -> None:
    signer = signing.generate(kind)
    again = signing.from_secret(kind, signer.secret_bytes())
    assert again.public_key == signer.public_key


def test_check_format() -> None:
    signing.check_format(KeyKind.SECP256R1, SignatureFormat.NEO_TX, 42)
    with pytest.raises(InvalidKeyRequest):
        signing.check_format(KeyKind.ED25519, SignatureFormat.NEO_TX, 42)
    with pytest.raises(InvalidKeyRequest):
        signing.check_format(KeyKind.SECP256R1, SignatureFormat.NEO_TX, None)
    with pytest.raises(InvalidKeyRequest):
        signing.check_format(KeyKind.SECP256R1, SignatureFormat.ECDSA_SHA256, 42)
    with pytest.raises(InvalidKeyRequest):
        signing.check_format(KeyKind.SECP256R1, SignatureFormat.NEO_TX, 2**32)
