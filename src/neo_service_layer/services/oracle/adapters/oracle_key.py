"""The oracle's platform key: secp256r1, purpose ``oracle``, created once in the enclave.

It signs oracle answers (``enclave.wire.oracle.response_message``, in ``oracle_fetch``) and price feed
rounds (``enclave.wire.feeds.round_message``, in ``feed_round``); the oracle and feed contracts are
deployed with its public key. It is remembered under the role ``oracle-ecdsa`` like every platform key.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey, ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.oracle.use_cases.fulfilment import OracleKey

ROLE = "oracle-ecdsa"
#: the secp256k1 key of EVM answers (``oracle_evm_fetch``; the EVM contract's ``signer``)
EVM_ROLE = "oracle-evm"
#: the key's name in ``network.json`` (``service_keys``) and in the provisioning context
ORACLE_PUBLIC_KEY = "oracle"


async def ensure_oracle_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> OracleKey:
    """The oracle key, created in the enclave if there is none yet."""
    key = await ensure_role_key(store, enclave, clock, ROLE, KeyKind.SECP256R1, [Purpose.ORACLE])
    return OracleKey(key.key_id, key.public_key)


async def load_oracle_key(store: RoleKeyStore) -> OracleKey | None:
    key = await load_role_key(store, ROLE)
    return OracleKey(key.key_id, key.public_key) if key is not None else None


async def ensure_evm_oracle_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RoleKey:
    """The secp256k1 key of EVM oracle answers, created in the enclave if there is none yet."""
    return await ensure_role_key(store, enclave, clock, EVM_ROLE, KeyKind.SECP256K1, [Purpose.ORACLE_EVM])


async def load_evm_oracle_key(store: RoleKeyStore) -> RoleKey | None:
    return await load_role_key(store, EVM_ROLE)
