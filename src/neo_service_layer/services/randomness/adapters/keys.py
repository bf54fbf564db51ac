"""The randomness service's platform keys: ``randomness-ecdsa`` (secp256r1, signs fulfil messages),
``randomness-bls`` (BLS12-381, the VRF proof) and, for EVM chains (Neo X), ``randomness-evm`` (secp256k1,
purpose ``randomness-evm``: the signer the EVM contract trusts), created once in the enclave."""

from __future__ import annotations

import coincurve
from Crypto.Hash import keccak

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey, ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.randomness.use_cases import RandomnessKeys
from neo_service_layer.services.randomness.use_cases.evm import EvmRandomnessKeys

ECDSA_ROLE = "randomness-ecdsa"
BLS_ROLE = "randomness-bls"
EVM_ROLE = "randomness-evm"


async def ensure_randomness_keys(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RandomnessKeys:
    """Both keys, each created in the enclave if missing."""
    ecdsa = await ensure_role_key(store, enclave, clock, ECDSA_ROLE, KeyKind.SECP256R1, [Purpose.RANDOMNESS])
    bls = await ensure_role_key(store, enclave, clock, BLS_ROLE, KeyKind.BLS12_381, [Purpose.RANDOMNESS])
    return RandomnessKeys(ecdsa.key_id, ecdsa.public_key, bls.key_id, bls.public_key)


async def ensure_evm_randomness_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RoleKey:
    """The secp256k1 key of EVM answers (``randomness_evm_fulfil``), created in the enclave if missing."""
    return await ensure_role_key(store, enclave, clock, EVM_ROLE, KeyKind.SECP256K1, [Purpose.RANDOMNESS_EVM])


async def load_randomness_keys(store: RoleKeyStore) -> RandomnessKeys | None:
    ecdsa, bls = await load_role_key(store, ECDSA_ROLE), await load_role_key(store, BLS_ROLE)
    if ecdsa is None or bls is None:
        return None
    return RandomnessKeys(ecdsa.key_id, ecdsa.public_key, bls.key_id, bls.public_key)


def public_keys(keys: RandomnessKeys) -> dict[str, str]:
    """The keys as published in ``network.json`` and ``GET /neo/network``."""
    return {"randomness_ecdsa": keys.ecdsa_public_key.hex(), "randomness_bls": keys.bls_public_key.hex()}


def evm_address(public_key: bytes) -> str:
    """The EIP-55 checksum address of a secp256k1 public key (33-byte compressed, as the enclave gives
    it): the last 20 bytes of the Keccak-256 of the uncompressed point without its ``04`` prefix."""
    point = coincurve.PublicKey(public_key).format(compressed=False)[1:]
    plain = keccak.new(digest_bits=256, data=point).digest()[-20:].hex()
    case = keccak.new(digest_bits=256, data=plain.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(case[i], 16) >= 8 else c for i, c in enumerate(plain))


async def load_evm_randomness_keys(store: RoleKeyStore) -> EvmRandomnessKeys | None:
    """The BLS key and the EVM answer key, once ``nsl chain node`` created them."""
    bls, evm = await load_role_key(store, BLS_ROLE), await load_role_key(store, EVM_ROLE)
    if bls is None or evm is None:
        return None
    return EvmRandomnessKeys(bls.key_id, evm.key_id)
