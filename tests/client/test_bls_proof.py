"""The client's offline BLS check of a randomness proof.

The answers here are made in the test with its own keys, so one can be signed (ECDSA) over a proof the
BLS key never made: exactly what the pairing check exists to catch, and what the signature alone lets
through.
"""

from __future__ import annotations

import hashlib
import os
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyblst import BlstP1Element, BlstP2Element

from neo_service_layer.enclave.wire import randomness as wire
from neo_service_layer.services.randomness.rules import RandomnessFacts
from nsl_client.bls import DST, G1_GENERATOR, BlsLibraryMissing
from nsl_client.models import RandomnessAnswer
from nsl_client.verify import derive_words, randomness_message, verify_randomness, vrf_input

ECDSA = ec.generate_private_key(ec.SECP256R1())
ECDSA_PUBLIC = ECDSA.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
BLS_SECRET = int.from_bytes(os.urandom(31), "big") + 1
BLS_PUBLIC = bytes(BlstP1Element.uncompress(G1_GENERATOR).scalar_mul(BLS_SECRET).compress())


def _answer(*, proof_key: int = BLS_SECRET, seed: bytes | None = None) -> RandomnessAnswer:
    """An answer for fixed facts: the proof made with ``proof_key``, then signed with the test's ECDSA
    key the way the service signs (so the signature holds whatever the proof is)."""
    unsigned = RandomnessAnswer.model_validate(
        {
            "requestId": "7",
            "networkMagic": 860833102,
            "contract": "0x" + "ab" * 20,
            "consumer": "0x" + "cd" * 20,
            "seed": (seed or b"\x05" * 32).hex(),
            "output": "00" * 32,
            "proof": "00" * 96,
            "words": ["0"],
            "signature": "00" * 64,
            "publicKey": ECDSA_PUBLIC.hex(),
            "blsPublicKey": BLS_PUBLIC.hex(),
        }
    )
    proof = bytes(BlstP2Element.hash_to_group(vrf_input(unsigned), DST).scalar_mul(proof_key).compress())
    output = hashlib.sha256(proof).digest()
    words = [str(w) for w in derive_words(output, 2)]
    answer = unsigned.model_copy(update={"proof": proof.hex(), "output": output.hex(), "words": words})
    r, s = decode_dss_signature(ECDSA.sign(randomness_message(answer), ec.ECDSA(hashes.SHA256())))
    return answer.model_copy(update={"signature": (r.to_bytes(32, "big") + s.to_bytes(32, "big")).hex()})


def test_the_vrf_input_is_the_one_the_enclave_signs() -> None:
    answer = _answer()
    facts = RandomnessFacts(
        answer.network_magic,
        bytes.fromhex(answer.contract[2:])[::-1],
        int(answer.request_id),
        bytes.fromhex(answer.consumer[2:])[::-1],
        bytes.fromhex(answer.seed),
    )
    assert vrf_input(answer) == wire.vrf_input(facts)


def test_a_genuine_proof_passes_with_the_bls_key() -> None:
    assert verify_randomness(_answer(), ECDSA_PUBLIC, bls_public_key=BLS_PUBLIC)


def test_a_proof_the_bls_key_did_not_make_fails_though_the_signature_holds() -> None:
    forged = _answer(proof_key=BLS_SECRET + 1)
    assert verify_randomness(forged, ECDSA_PUBLIC)  # the signature alone cannot tell
    assert not verify_randomness(forged, ECDSA_PUBLIC, bls_public_key=BLS_PUBLIC)


def test_a_proof_made_for_other_facts_fails() -> None:
    other = _answer(seed=b"\x06" * 32)
    moved = _answer().model_copy(update={"proof": other.proof, "output": other.output, "words": other.words})
    assert not verify_randomness(moved, ECDSA_PUBLIC, bls_public_key=BLS_PUBLIC)


@pytest.fixture
def without_pyblst(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyblst", None)  # an import of it now raises ImportError


@pytest.mark.usefixtures("without_pyblst")
def test_without_pyblst_the_bls_check_says_how_to_get_it_and_the_rest_still_works() -> None:
    answer = _answer()
    assert verify_randomness(answer, ECDSA_PUBLIC)
    with pytest.raises(BlsLibraryMissing, match=r"neo-service-layer-client\[bls\]"):
        verify_randomness(answer, ECDSA_PUBLIC, bls_public_key=BLS_PUBLIC)
