"""The compute service's platform key: secp256r1, purpose ``compute``, created once in the enclave.

It signs only what ``compute_run`` builds: off-chain receipts and on-chain answers (``enclave.wire.
compute``); the compute contract is deployed with its public key. Remembered under the role
``compute-ecdsa`` like every platform key.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.compute.rules import ComputeKey

ROLE = "compute-ecdsa"
#: the key's name in ``network.json`` (``service_keys``) and in the provisioning context
COMPUTE_PUBLIC_KEY = "compute"


async def ensure_compute_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> ComputeKey:
    """The compute key, created in the enclave if there is none yet."""
    key = await ensure_role_key(store, enclave, clock, ROLE, KeyKind.SECP256R1, [Purpose.COMPUTE])
    return ComputeKey(key.key_id, key.public_key)


async def load_compute_key(store: RoleKeyStore) -> ComputeKey | None:
    key = await load_role_key(store, ROLE)
    return ComputeKey(key.key_id, key.public_key) if key is not None else None
