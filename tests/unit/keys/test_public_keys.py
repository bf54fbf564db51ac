"""Addresses and verification from public keys, cross-checked with neo-mamba and eth-keys."""

from __future__ import annotations

import coincurve
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_keys import keys as eth
from neo3.core import cryptography as neo_crypto
from neo3.wallet import utils as neo_wallet

from neo_service_layer.enclave.wire.keys import KeyKind, SignatureFormat
from neo_service_layer.services.keys.adapters.public_keys import (
    PublicKeyOperations,
    keccak256,
    neo_verification_script,
)

OPS = PublicKeyOperations()


def test_neo_address_matches_neo_mamba() -> None:
    for _ in range(5):
        public = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        )
        found = OPS.addresses(KeyKind.SECP256R1, public)
        script_hash = neo_wallet.public_key_to_script_hash(neo_crypto.ECPoint.deserialize_from_bytes(public))
        assert found.neo_address == neo_wallet.script_hash_to_address(script_hash)
        assert found.neo_script_hash == "0x" + str(script_hash).removeprefix("0x")
    script = neo_verification_script(public)
    assert script[:2] == b"\x0c\x21"
    assert script[-5:] == bytes.fromhex("4156e7b327")


def test_evm_address_matches_eth_keys_and_recoverable_signatures_verify() -> None:
    private = coincurve.PrivateKey()
    public = private.public_key.format(compressed=True)
    assert (
        OPS.addresses(KeyKind.SECP256K1, public).evm_address
        == eth.PublicKey.from_compressed_bytes(public).to_checksum_address()
    )
    raw = private.sign_recoverable(b"hello")  # coincurve hashes with SHA-256 by default, EVM with Keccak
    assert not OPS.verify(
        KeyKind.SECP256K1, SignatureFormat.EVM_RECOVERABLE, public, b"hello", raw[:64] + bytes([27 + raw[64]])
    )
    good = private.sign_recoverable(b"hello", hasher=keccak256)
    assert OPS.verify(
        KeyKind.SECP256K1,
        SignatureFormat.EVM_RECOVERABLE,
        public,
        b"hello",
        good[:64] + bytes([27 + good[64]]),
    )


def test_p256_verification() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    r, s = decode_dss_signature(private.sign(b"m", ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert OPS.verify(KeyKind.SECP256R1, SignatureFormat.ECDSA_SHA256, public, b"m", signature)
    assert not OPS.verify(KeyKind.SECP256R1, SignatureFormat.ECDSA_SHA256, public, b"n", signature)
    assert not OPS.verify(KeyKind.SECP256R1, SignatureFormat.ECDSA_SHA256, public, b"m", bytes(64))
