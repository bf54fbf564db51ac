"""The enclave's ``randomness_evm_fulfil`` op: randomness for an EVM (Neo X) request, built here from chain
facts and signed so the EVM contract's ``ecrecover`` accepts it.

Wire arguments (binary values base64)::

    {"tenant": str, "bls_key_id": str, "evm_key_id": str,
     "items": [{"chain_id": int, "contract": b64 (20), "request_id": int, "consumer": b64 (20),
                "seed": b64 (32)}, ...]}

Result::

    {"results": [{"randomness": b64 (32), "proof": b64 (96), "signature": b64 (65)}, ...]}  (item order)

For each item the enclave builds the VRF input (``wire/randomness_evm.py``), signs it with the BLS key
(purpose ``randomness``: the same key as on Neo N3, under another tag), derives ``randomness =
SHA-256(proof)``, builds the fulfil preimage and signs its Keccak-256 with the secp256k1 key of purpose
``randomness-evm`` (65 bytes r || s || v). The host supplies only chain facts, so a host that can talk
to the enclave gets at most the one answer the contract accepts for those facts. Keys of purpose
``randomness-evm`` are refused by the raw ``sign`` operations (``TYPED_ONLY_PURPOSES``): this op is
their only use.
"""

from __future__ import annotations

from typing import Any

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.op_args import batch_items, require_kind
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    KeyKind,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.randomness_evm import (
    EvmRandomnessFacts,
    fulfil_preimage,
    randomness_from_proof,
    vrf_input,
)


def _facts(args: Args) -> EvmRandomnessFacts:
    return EvmRandomnessFacts(
        chain_id=args.integer("chain_id"),
        contract=args.blob("contract"),
        request_id=args.integer("request_id"),
        consumer=args.blob("consumer"),
        seed=args.blob("seed"),
    )


class EvmRandomnessFulfilOp:
    """Runs ``randomness_evm_fulfil`` (synchronous: pure computation)."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def __call__(self, args: Args) -> dict[str, Any]:
        tenant = args.text("tenant")
        bls_key_id, evm_key_id = args.text("bls_key_id"), args.text("evm_key_id")
        facts = batch_items(args, _facts)
        require_kind(self._keys, bls_key_id, KeyKind.BLS12_381, "bls_key_id")
        require_kind(self._keys, evm_key_id, KeyKind.SECP256K1, "evm_key_id")
        if Purpose.RANDOMNESS_EVM not in self._keys.purposes(evm_key_id):
            # checked before the BLS signatures: no proof is made for an answer this op cannot sign
            raise PolicyDenied("key policy does not allow purpose randomness-evm")
        proofs = self._keys.sign_for_operation(
            bls_key_id,
            [vrf_input(f) for f in facts],
            tenant=tenant,
            purpose=Purpose.RANDOMNESS,
            fmt=SignatureFormat.BLS,
        )
        values = [randomness_from_proof(p) for p in proofs]
        signatures = self._keys.sign_for_operation(
            evm_key_id,
            [fulfil_preimage(f, r) for f, r in zip(facts, values, strict=True)],
            tenant=tenant,
            purpose=Purpose.RANDOMNESS_EVM,
            fmt=SignatureFormat.EVM_RECOVERABLE,
        )
        return {
            "results": [
                {"randomness": b64encode(r), "proof": b64encode(p), "signature": b64encode(s)}
                for r, p, s in zip(values, proofs, signatures, strict=True)
            ]
        }
