"""Who signs an EVM transaction ``EvmChain.send`` built: the port between fees/nonces and the key.

``EvmChain`` dry-runs the call, picks the fees and reserves the nonce, then hands the structured
EIP-1559 fields to an ``EvmSigner`` and broadcasts what it returns. Adapters
(``kernel/chain/adapters/evm_signers.py``): ``LocalEvmSigner`` (an eth-account key on the host: the
owner's deployment key, tests) and ``EnclaveEvmSigner`` (the enclave's EVM sender key, which signs only
allow-listed calls, ``enclave/evm_tx_rules.py``).
"""

from __future__ import annotations

from typing import Protocol

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction, SignedEvmTransaction


class EvmSigner(Protocol):
    """One EVM account that signs type-2 transactions."""

    @property
    def address(self) -> str:
        """The account's checksum address (the transaction's sender, whose nonces are used)."""
        ...

    async def sign(self, tx: Eip1559Transaction) -> SignedEvmTransaction:
        """``tx`` signed: the raw transaction to broadcast and its hash.

        Raises:
            PolicyDenied: the signer refuses this transaction (the enclave's rules).
        """
        ...
