"""The platform's own chain keys, created in the enclave once and remembered in the database.

Roles: ``randomness-ecdsa`` (secp256r1, signs fulfil messages), ``randomness-bls`` (BLS12-381, the VRF
proof) and ``sender`` (secp256r1, signs and pays for the service's transactions). All belong to tenant
``__platform__``; their sealed records go to ``key_sealed_records`` like any enclave key, so a restarted
enclave is re-provisioned from the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.adapters.signing import PLATFORM_TENANT, EnclaveAccount
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.randomness.use_cases import RandomnessKeys

ROLES: dict[str, tuple[KeyKind, Purpose]] = {
    "randomness-ecdsa": (KeyKind.SECP256R1, Purpose.RANDOMNESS),
    "randomness-bls": (KeyKind.BLS12_381, Purpose.RANDOMNESS),
    "sender": (KeyKind.SECP256R1, Purpose.NEO_TX),
}


@dataclass(frozen=True, slots=True)
class ServiceKeys:
    randomness: RandomnessKeys
    sender: EnclaveAccount

    def public(self) -> dict[str, str]:
        return {
            "randomness_ecdsa": self.randomness.ecdsa_public_key.hex(),
            "randomness_bls": self.randomness.bls_public_key.hex(),
            "sender": self.sender.public_key.hex(),
        }


async def ensure_service_keys(store: ChainStore, enclave: Enclave, clock: Clock) -> ServiceKeys:
    """Create the missing service keys in the enclave; return all of them."""
    for role, (kind, purpose) in ROLES.items():
        if await store.service_key(role) is not None:
            continue
        sealed = await enclave.create_key(kind, KeyPolicy.of(PLATFORM_TENANT, [purpose]))
        info = sealed.info
        await store.put_service_key(
            role, info.key_id, kind.value, info.public_key, sealed.sealed_record, info.version, clock.now()
        )  # False: another process made one first; theirs is used (re-read below)
    keys = await load_service_keys(store)
    assert keys is not None
    return keys


async def load_service_keys(store: ChainStore) -> ServiceKeys | None:
    found = {role: await store.service_key(role) for role in ROLES}
    ecdsa, bls, sender = found["randomness-ecdsa"], found["randomness-bls"], found["sender"]
    if ecdsa is None or bls is None or sender is None:
        return None
    return ServiceKeys(
        RandomnessKeys(ecdsa[0], ecdsa[2], bls[0], bls[2]),
        EnclaveAccount(sender[0], sender[2]),
    )
