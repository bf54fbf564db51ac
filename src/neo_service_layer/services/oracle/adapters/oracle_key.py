"""The oracle's service key: secp256r1, purpose ``oracle``, tenant ``__platform__``, created once.

It signs oracle answers (``domain.oracle.response_message``) and price feed updates
(``domain.feed_updates.update_message``); the oracle and feed contracts are deployed with its public key.
Like the other service keys it is remembered in ``chain_service_keys`` (role ``oracle-ecdsa``) with its
sealed record in ``key_sealed_records``, so a restarted enclave is re-provisioned from the database.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.adapters.signing import PLATFORM_TENANT
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.oracle.use_cases.fulfilment import OracleKey

ROLE = "oracle-ecdsa"


async def ensure_oracle_key(store: ChainStore, enclave: Enclave, clock: Clock) -> OracleKey:
    """The oracle key, created in the enclave if there is none yet."""
    if await store.service_key(ROLE) is None:
        sealed = await enclave.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_TENANT, [Purpose.ORACLE]))
        info = sealed.info
        await store.put_service_key(
            ROLE,
            info.key_id,
            KeyKind.SECP256R1.value,
            info.public_key,
            sealed.sealed_record,
            info.version,
            clock.now(),
        )  # False: another process made one first; theirs is used (re-read below)
    key = await load_oracle_key(store)
    assert key is not None
    return key


async def load_oracle_key(store: ChainStore) -> OracleKey | None:
    found = await store.service_key(ROLE)
    return OracleKey(found[0], found[2]) if found is not None else None
