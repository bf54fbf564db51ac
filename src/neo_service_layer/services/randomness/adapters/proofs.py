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
from neo_service_layer.services.randomness.rules import RandomnessFacts

BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
BLS_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
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


def in_prime_subgroup(point: BlstP1Element | BlstP2Element) -> bool:
    """``r·P = O``, checked as ``(r-1)·P == -P`` (pyblst reduces scalars mod r, so ``r·P`` would always
    give the identity). pyblst's ``uncompress`` already refuses points outside G1/G2
    (``BLST_POINT_NOT_IN_GROUP``); this check does not rely on that."""
    return bool(point.scalar_mul(BLS_ORDER - 1) == -point)


def bls_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``e(pk, H(m)) == e(G1, sig)`` with the IETF hash-to-G2 (RFC 9380, ``BLS_DST``).

    The public key must be a G1 point and the signature a G2 point of the prime-order subgroups, neither
    the point at infinity; anything else is refused before the pairing.
    """
    if len(public_key) != 48 or len(signature) != 96:
        return False
    if public_key[0] & 0x40 or signature[0] & 0x40:  # the point at infinity proves nothing
        return False
    try:
        pk = BlstP1Element.uncompress(public_key)
        sig = BlstP2Element.uncompress(signature)
    except ValueError:  # not on the curve, or not in the subgroup
        return False
    if not (in_prime_subgroup(pk) and in_prime_subgroup(sig)):
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
    facts: RandomnessFacts,
    proof: bytes,
    output: bytes,
    bls_public_key: bytes,
    words: list[int] | None = None,
    signature: bytes | None = None,
    public_key: bytes | None = None,
) -> Verdict:
    """Check one answer for ``facts`` (network magic, contract, request id, consumer, seed: see
    ``enclave/wire/randomness.py``); ``words`` / ``signature`` are checked when given (``None`` = not
    checked)."""
    proof_ok = bls_verify(bls_public_key, randomness.vrf_input(facts), proof)
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
            public_key, randomness.fulfil_message(facts, output, proof), signature
        )
    return Verdict(proof_ok, output_ok, words_ok, signature_ok)


def facts_or_none(
    *, magic: int, contract: bytes, request_id: int, consumer: bytes, seed: bytes
) -> RandomnessFacts | None:
    """The facts, or ``None`` when they are malformed (a verifier then answers "not valid")."""
    try:
        return RandomnessFacts(magic, contract, request_id, consumer, seed)
    except InvalidInput:
        return None


def invalid_verdict(words: list[int] | None, signature: bytes | None) -> Verdict:
    """The verdict for malformed facts: nothing holds."""
    return Verdict(False, False, False if words is not None else None, False if signature else None)
