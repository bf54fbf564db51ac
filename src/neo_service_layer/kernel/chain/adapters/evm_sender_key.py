"""The services' sender on EVM chains: a secp256k1 key in the enclave (role ``evm-sender``).

It only pays gas: the answers it carries are signed by the services' own keys and checked by the
contracts. The enclave signs with it only calls of registered service contracts that the running
services make (``evm_sign_transaction``, ``enclave/evm_tx_rules.py``), built from the fields it is
given, never bytes the host chose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction, SignedEvmTransaction
from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_signers import EnclaveEvmSigner
from neo_service_layer.kernel.chain.adapters.evm_transactions import EvmSender
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey, ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.evm_transactions import EvmSenderEnclave
from neo_service_layer.kernel.enclave_client.ports import Enclave

EVM_SENDER_ROLE = "evm-sender"


async def ensure_evm_sender(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RoleKey:
    """The EVM sender key, created in the enclave once."""
    return await ensure_role_key(
        store, enclave, clock, EVM_SENDER_ROLE, KeyKind.SECP256K1, [Purpose.EVM_SENDER]
    )


class _LateEnclave:
    """The process's enclave, looked up at each signature (it may be configured after the chain opens)."""

    def __init__(self, enclave: Callable[[], object]) -> None:
        self._enclave = enclave

    async def evm_sign_transaction(self, key_id: KeyId, tx: Eip1559Transaction) -> SignedEvmTransaction:
        client = cast(EvmSenderEnclave, self._enclave())  # the EnclaveClient mixes these calls in
        return await client.evm_sign_transaction(key_id, tx)


async def load_evm_sender(
    store: RoleKeyStore, chain: EvmChain, enclave: Callable[[], Enclave], *, max_fee_cap: int | None
) -> EvmSender | None:
    """The sender, once its key exists (``nsl chain node`` creates it on the local Neo X)."""
    key = await load_role_key(store, EVM_SENDER_ROLE)
    if key is None:
        return None
    signer = EnclaveEvmSigner(_LateEnclave(enclave), key.key_id, key.public_key)
    return EvmSender(chain, signer, max_fee_cap=max_fee_cap)
