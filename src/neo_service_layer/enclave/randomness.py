"""The enclave's ``randomness_fulfil`` op: the whole randomness answer is built here, from chain facts.

Wire arguments (binary values base64)::

    {"tenant": str, "bls_key_id": str, "ecdsa_key_id": str,
     "items": [{"magic": int, "contract": b64 (20), "request_id": int, "consumer": b64 (20),
                "seed": b64 (32)}, ...]}

Result::

    {"results": [{"output": b64 (32), "proof": b64 (96), "signature": b64 (64)}, ...]}  (item order)

For each item the enclave builds ``vrf_input`` (``wire/randomness.py``), signs it with the BLS key (the
proof), derives ``output = SHA-256(proof)``, builds the fulfil message and signs it with the secp256r1
key. The host supplies no message, output or proof, so a host process that can talk to the enclave gets
at most the one answer the contract accepts for those facts. The randomness keys (purpose
``randomness``) are refused by the raw ``sign`` operations (``KeyStore.sign``); this op is their only use.
"""

from __future__ import annotations

from typing import Any

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.op_args import batch_items, require_kind
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    KeyKind,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.randomness import (
    RandomnessFacts,
    fulfil_message,
    output_from_proof,
    vrf_input,
)


def _facts(args: Args) -> RandomnessFacts:
    return RandomnessFacts(
        magic=args.integer("magic"),
        contract=args.blob("contract"),
        request_id=args.integer("request_id"),
        consumer=args.blob("consumer"),
        seed=args.blob("seed"),
    )


class RandomnessFulfilOp:
    """Runs ``randomness_fulfil`` (synchronous: pure computation)."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def __call__(self, args: Args) -> dict[str, Any]:
        tenant = args.text("tenant")
        bls_key_id, ecdsa_key_id = args.text("bls_key_id"), args.text("ecdsa_key_id")
        facts = batch_items(args, _facts)
        require_kind(self._keys, bls_key_id, KeyKind.BLS12_381, "bls_key_id")
        require_kind(self._keys, ecdsa_key_id, KeyKind.SECP256R1, "ecdsa_key_id")
        proofs = self._keys.sign_for_operation(
            bls_key_id,
            [vrf_input(f) for f in facts],
            tenant=tenant,
            purpose=Purpose.RANDOMNESS,
            fmt=SignatureFormat.BLS,
        )
        outputs = [output_from_proof(p) for p in proofs]
        signatures = self._keys.sign_for_operation(
            ecdsa_key_id,
            [fulfil_message(f, o, p) for f, o, p in zip(facts, outputs, proofs, strict=True)],
            tenant=tenant,
            purpose=Purpose.RANDOMNESS,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
        return {
            "results": [
                {"output": b64encode(o), "proof": b64encode(p), "signature": b64encode(s)}
                for o, p, s in zip(outputs, proofs, signatures, strict=True)
            ]
        }
