"""The two ``EvmSigner`` adapters: an eth-account key on the host, and the enclave's EVM sender key.

- ``LocalEvmSigner``: a ``LocalAccount`` signs on the host. For keys that are not the services': the
  owner's deployment key of the local chain (anvil's published development key), and tests.
- ``EnclaveEvmSigner``: the platform's EVM sender (a secp256k1 key of purpose ``evm-sender``) signs in the
  enclave, which builds the transaction from its fields and signs only calls of the registered service
  contracts' service functions with no value and bounded gas and fee (``enclave/evm_tx_rules.py``).
  The answer is checked here: its hash is the Keccak-256 of the raw transaction, and its sender is this
  signer's address.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import PublicKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction, SignedEvmTransaction
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.evm_transactions import EvmSenderEnclave
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


def evm_address_of(public_key: bytes) -> str:
    """The checksum EVM address of a secp256k1 public key (compressed or not)."""
    key = (
        PublicKey.from_compressed_bytes(public_key) if len(public_key) == 33 else PublicKey(public_key[-64:])
    )
    return str(key.to_checksum_address())


class LocalEvmSigner:
    """Signs with an eth-account key held by this process."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def sign(self, tx: Eip1559Transaction) -> SignedEvmTransaction:
        fields: dict[str, Any] = {
            "type": 2,
            "chainId": tx.chain_id,
            "nonce": tx.nonce,
            "data": tx.data,
            "value": tx.value,
            "gas": tx.gas,
            "maxFeePerGas": tx.max_fee_per_gas,
            "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
        }
        if tx.to is not None:
            fields["to"] = to_checksum_address(tx.to)
        signed = self.account.sign_transaction(fields)
        return SignedEvmTransaction(
            bytes(signed.raw_transaction), bytes(signed.hash), bytes.fromhex(self.address[2:])
        )


class EnclaveEvmSigner:
    """Signs with the enclave's EVM sender key ``key_id`` (its public key gives the address)."""

    def __init__(self, enclave: EvmSenderEnclave, key_id: KeyId, public_key: bytes) -> None:
        self._enclave = enclave
        self.key_id = key_id
        self._address = evm_address_of(public_key)

    @property
    def address(self) -> str:
        return self._address

    async def sign(self, tx: Eip1559Transaction) -> SignedEvmTransaction:
        signed = await self._enclave.evm_sign_transaction(self.key_id, tx)
        if keccak(signed.raw) != signed.tx_hash:
            raise EnclaveRequestRejected("bad_response", "the signed transaction does not match its hash")
        if to_checksum_address(signed.sender) != self._address:
            raise EnclaveRequestRejected("bad_response", "the enclave signed with another account")
        return signed
