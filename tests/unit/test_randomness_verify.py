"""The off-chain verifier: every fact is checked, and BLS points must lie in the prime-order subgroups."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyblst import BlstP1Element, BlstP2Element

from neo_service_layer.services.randomness import rules
from neo_service_layer.services.randomness.adapters.proofs import (
    BLS_DST,
    BLS_ORDER,
    G1_GENERATOR,
    bls_verify,
    in_prime_subgroup,
    verify_randomness,
)

FACTS = rules.RandomnessFacts(860833102, bytes(range(20)), 9, bytes(range(30, 50)), bytes(range(32)))
P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB


def _answer(facts: rules.RandomnessFacts) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    scalar = secrets.randbelow(BLS_ORDER - 1) + 1
    bls_pk = bytes(BlstP1Element.uncompress(G1_GENERATOR).scalar_mul(scalar).compress())
    proof = bytes(BlstP2Element.hash_to_group(rules.vrf_input(facts), BLS_DST).scalar_mul(scalar).compress())
    output = rules.output_from_proof(proof)
    key = ec.generate_private_key(ec.SECP256R1())
    r, s = decode_dss_signature(
        key.sign(rules.fulfil_message(facts, output, proof), ec.ECDSA(hashes.SHA256()))
    )
    ecdsa_pk = key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return proof, output, r.to_bytes(32, "big") + s.to_bytes(32, "big"), bls_pk, ecdsa_pk


def test_an_answer_verifies_only_for_its_own_facts() -> None:
    proof, output, signature, bls_pk, ecdsa_pk = _answer(FACTS)

    def verdict(facts: rules.RandomnessFacts) -> tuple[bool, bool | None]:
        v = verify_randomness(
            facts=facts,
            proof=proof,
            output=output,
            bls_public_key=bls_pk,
            signature=signature,
            public_key=ecdsa_pk,
        )
        return v.proof, v.signature

    assert verdict(FACTS) == (True, True)
    f = FACTS
    assert verdict(rules.RandomnessFacts(f.magic + 1, f.contract, f.request_id, f.consumer, f.seed)) == (
        False,
        False,
    )
    assert verdict(rules.RandomnessFacts(f.magic, bytes(20), f.request_id, f.consumer, f.seed)) == (
        False,
        False,
    )
    assert verdict(rules.RandomnessFacts(f.magic, f.contract, f.request_id + 1, f.consumer, f.seed)) == (
        False,
        False,
    )
    # the consumer is in the signed fulfil message (the proof, over the VRF input, stays valid)
    assert verdict(rules.RandomnessFacts(f.magic, f.contract, f.request_id, bytes(20), f.seed)) == (
        True,
        False,
    )


def _g1_point_outside_the_subgroup() -> bytes:
    """A point on y^2 = x^3 + 4 over Fp that is not in G1 (almost every curve point is not)."""
    x = 5
    while True:
        y2 = (x**3 + 4) % P
        y = pow(y2, (P + 1) // 4, P)
        if y * y % P == y2:
            encoded = bytearray(x.to_bytes(48, "big"))
            encoded[0] |= 0x80 | (0x20 if y > (P - 1) // 2 else 0)
            return bytes(encoded)
        x += 1


def test_a_public_key_outside_g1_is_refused() -> None:
    proof, _output, _sig, _bls_pk, _ecdsa_pk = _answer(FACTS)
    assert bls_verify(_g1_point_outside_the_subgroup(), rules.vrf_input(FACTS), proof) is False


def _fp2_mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return ((a[0] * b[0] - a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)


def _fp2_pow(a: tuple[int, int], e: int) -> tuple[int, int]:
    result = (1, 0)
    while e:
        if e & 1:
            result = _fp2_mul(result, a)
        a, e = _fp2_mul(a, a), e >> 1
    return result


def _fp2_sqrt(a: tuple[int, int]) -> tuple[int, int] | None:
    """Square root in Fp2 = Fp[i]/(i^2+1), p = 3 mod 4 (Adj and Rodriguez-Henriquez, algorithm 9)."""
    a1 = _fp2_pow(a, (P - 3) // 4)
    alpha = _fp2_mul(_fp2_mul(a1, a1), a)
    x0 = _fp2_mul(a1, a)
    if alpha == (P - 1, 0):
        x = _fp2_mul((0, 1), x0)
    else:
        x = _fp2_mul(_fp2_pow(((1 + alpha[0]) % P, alpha[1]), (P - 1) // 2), x0)
    return x if _fp2_mul(x, x) == a else None


def _g2_point_outside_the_subgroup() -> bytes:
    """A point on the twist y^2 = x^3 + 4(1+i) that is not in G2, compressed (x.c1 || x.c0)."""
    x = (1, 0)
    while True:
        cube = _fp2_mul(_fp2_mul(x, x), x)
        if _fp2_sqrt(((cube[0] + 4) % P, (cube[1] + 4) % P)) is not None:
            encoded = bytearray(x[1].to_bytes(48, "big") + x[0].to_bytes(48, "big"))
            encoded[0] |= 0x80
            return bytes(encoded)
        x = (x[0] + 1, 0)


def test_a_proof_outside_g2_is_refused() -> None:
    _proof, _output, _sig, bls_pk, _ecdsa_pk = _answer(FACTS)
    outside = _g2_point_outside_the_subgroup()
    assert bls_verify(bls_pk, rules.vrf_input(FACTS), outside) is False


def test_subgroup_check() -> None:
    assert in_prime_subgroup(BlstP1Element.uncompress(G1_GENERATOR).scalar_mul(12345))
    assert in_prime_subgroup(BlstP2Element.hash_to_group(b"m", BLS_DST))
