"""Platform keys of the chain services, created in the enclave once and remembered in the database.

Each key plays one role (``sender``, ``randomness-ecdsa``, ``oracle-ecdsa``, ...). The kernel owns the
``sender`` role (secp256r1, signs and pays for the services' transactions); every other role belongs to
the service that creates it through :func:`ensure_role_key`. All keys belong to the enclave tenant
``__platform__``; their sealed records go to ``key_sealed_records`` like any enclave key, so a restarted
enclave is re-provisioned from the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, Purpose
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave

SENDER_ROLE = "sender"
#: the development owner of the service contracts (a key of its own, signed with by the cli client only)
OWNER_ROLE = "contract-owner"


@dataclass(frozen=True, slots=True)
class RoleKey:
    """An enclave key playing a role: its id and public key."""

    key_id: str
    public_key: bytes


async def ensure_role_key(
    store: RoleKeyStore,
    enclave: Enclave,
    clock: Clock,
    role: str,
    kind: KeyKind,
    purposes: Sequence[Purpose],
) -> RoleKey:
    """The key playing ``role``, created in the enclave (``__platform__``, ``purposes``) if there is none."""
    if await store.service_key(role) is None:
        sealed = await enclave.create_key(kind, KeyPolicy.of(PLATFORM_KEY_OWNER, list(purposes)))
        info = sealed.info
        await store.put_service_key(
            role, info.key_id, kind.value, info.public_key, sealed.sealed_record, info.version, clock.now()
        )  # False: another process made one first; theirs is used (re-read below)
    key = await load_role_key(store, role)
    assert key is not None
    return key


async def load_role_key(store: RoleKeyStore, role: str) -> RoleKey | None:
    found = await store.service_key(role)
    return RoleKey(found[0], found[2]) if found is not None else None


async def ensure_sender(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> EnclaveAccount:
    """The services' transaction sender, created once."""
    key = await ensure_role_key(store, enclave, clock, SENDER_ROLE, KeyKind.SECP256R1, [Purpose.NEO_TX])
    return EnclaveAccount(key.key_id, key.public_key)


async def load_sender(store: RoleKeyStore) -> EnclaveAccount | None:
    key = await load_role_key(store, SENDER_ROLE)
    return EnclaveAccount(key.key_id, key.public_key) if key is not None else None


async def ensure_owner(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> EnclaveAccount:
    """The development owner of the service contracts, created once: never the sender (administration
    only; purpose ``contract-owner``, which the enclave lets only the ``cli`` client sign with)."""
    key = await ensure_role_key(
        store, enclave, clock, OWNER_ROLE, KeyKind.SECP256R1, [Purpose.CONTRACT_OWNER]
    )
    return EnclaveAccount(key.key_id, key.public_key)


async def load_owner(store: RoleKeyStore) -> EnclaveAccount | None:
    key = await load_role_key(store, OWNER_ROLE)
    return EnclaveAccount(key.key_id, key.public_key) if key is not None else None
