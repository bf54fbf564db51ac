"""The randomness service's platform keys: ``randomness-ecdsa`` (secp256r1, signs fulfil messages) and
``randomness-bls`` (BLS12-381, the VRF proof), created once in the enclave."""

from __future__ import annotations

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.randomness.use_cases import RandomnessKeys

ECDSA_ROLE = "randomness-ecdsa"
BLS_ROLE = "randomness-bls"


async def ensure_randomness_keys(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RandomnessKeys:
    """Both keys, each created in the enclave if missing."""
    ecdsa = await ensure_role_key(store, enclave, clock, ECDSA_ROLE, KeyKind.SECP256R1, [Purpose.RANDOMNESS])
    bls = await ensure_role_key(store, enclave, clock, BLS_ROLE, KeyKind.BLS12_381, [Purpose.RANDOMNESS])
    return RandomnessKeys(ecdsa.key_id, ecdsa.public_key, bls.key_id, bls.public_key)


async def load_randomness_keys(store: RoleKeyStore) -> RandomnessKeys | None:
    ecdsa, bls = await load_role_key(store, ECDSA_ROLE), await load_role_key(store, BLS_ROLE)
    if ecdsa is None or bls is None:
        return None
    return RandomnessKeys(ecdsa.key_id, ecdsa.public_key, bls.key_id, bls.public_key)


def public_keys(keys: RandomnessKeys) -> dict[str, str]:
    """The keys as published in ``network.json`` and ``GET /neo/network``."""
    return {"randomness_ecdsa": keys.ecdsa_public_key.hex(), "randomness_bls": keys.bls_public_key.hex()}
