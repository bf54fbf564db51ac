"""Checking a randomness answer off chain, independently of the enclave (pyblst + ``cryptography``).

``verify_randomness`` is what a dApp developer runs to trust a result without trusting this service's
API: the BLS proof against the published BLS public key (pairing check), ``output = SHA-256(proof)``,
the words derived from the output, and the ECDSA signature over the fulfil message against the
published secp256r1 key. ``docs/randomness.md`` shows the same function for copying.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.randomness import rules as randomness

BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    proof: bool
    output: bool
    words: bool | None
    signature: bool | None

    @property
    def ok(self) -> bool:
        return self.proof and self.output and self.words is not False and self.signature is not False


def bls_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``e(pk, H(m)) == e(G1, sig)`` with the IETF hash-to-G2 (RFC 9380, ``BLS_DST``)."""
    if len(public_key) != 48 or len(signature) != 96:
        return False
    if public_key[0] & 0x40 or signature[0] & 0x40:  # the point at infinity proves nothing
        return False
    try:
        pk = BlstP1Element.uncompress(public_key)
        sig = BlstP2Element.uncompress(signature)
    except ValueError:
        return False
    hashed = BlstP2Element.hash_to_group(message, BLS_DST)
    return bool(
        final_verify(miller_loop(pk, hashed), miller_loop(BlstP1Element.uncompress(G1_GENERATOR), sig))
    )


def ecdsa_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """secp256r1 ECDSA over SHA-256(message), signature 64 bytes ``r || s`` (as CryptoLib checks it)."""
    if len(signature) != 64:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_randomness(
    *,
    request_id: int,
    seed: bytes,
    proof: bytes,
    output: bytes,
    bls_public_key: bytes,
    words: list[int] | None = None,
    signature: bytes | None = None,
    public_key: bytes | None = None,
) -> Verdict:
    """Check one answer; ``words`` / ``signature`` are checked when given (``None`` = not checked)."""
    try:
        message = randomness.vrf_input(request_id, seed)
    except InvalidInput:
        return Verdict(False, False, False if words is not None else None, False if signature else None)
    proof_ok = bls_verify(bls_public_key, message, proof)
    output_ok = len(proof) == 96 and hashlib.sha256(proof).digest() == output
    words_ok: bool | None = None
    if words is not None:
        words_ok = (
            output_ok
            and 1 <= len(words) <= randomness.MAX_WORDS
            and (randomness.derive_words(output, len(words)) == list(words))
        )
    signature_ok: bool | None = None
    if signature is not None and public_key is not None:
        signature_ok = output_ok and ecdsa_verify(
            public_key, randomness.fulfil_message(request_id, seed, output, proof), signature
        )
    return Verdict(proof_ok, output_ok, words_ok, signature_ok)
