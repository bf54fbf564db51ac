"""Transaction signing through the enclave: watch-only accounts on this side, keys inside the enclave.

``enclave_signing_function`` gives :class:`neo_service_layer.kernel.chain.adapters.neo_chain.NeoChain`
its ``TransactionSigner``: it sends the whole unsigned transaction, the network magic and the chain
height to the enclave's ``sign_transaction`` (the enclave parses the transaction, signs
``magic (u32 LE) || hash`` only for the services' own calls on registered contracts, with bounded fees
and ``validUntilBlock``) and adds the standard single-signature witness. The sender key signs nothing
raw for the worker; only the ``cli`` token keeps raw signing (deployment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from neo3 import vm
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography, serialization, types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction, verification
from neo3.wallet import utils as wallet_utils

from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.ports import Enclave


@dataclass(frozen=True, slots=True)
class EnclaveAccount:
    """A single-signature Neo account whose private key lives in the enclave."""

    key_id: KeyId
    public_key: bytes

    @property
    def verification_script(self) -> bytes:
        point = cryptography.ECPoint.deserialize_from_bytes(self.public_key)
        script: bytes = contract_utils.create_signature_redeemscript(point)
        return script

    @property
    def script_hash(self) -> types.UInt160:
        hash_: types.UInt160 = core_utils.to_script_hash(self.verification_script)
        return hash_

    @property
    def address(self) -> str:
        address: str = wallet_utils.script_hash_to_address(self.script_hash)
        return address


def invocation_script(signature: bytes) -> bytes:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    data: bytes = builder.emit_push(signature).to_array()
    return data


class TransactionSigner(Protocol):
    """Adds the sender's witness to ``tx`` for network ``magic``; ``height`` is the chain height seen."""

    async def __call__(self, tx: transaction.Transaction, magic: int, height: int) -> None: ...


def unsigned_bytes(tx: transaction.Transaction) -> bytes:
    """The unsigned part of ``tx``: what its hash covers and what the enclave reads."""
    with serialization.BinaryWriter() as writer:
        tx.serialize_unsigned(writer)
        data: bytes = writer.to_array()
    return data


def enclave_signing_function(enclave: Callable[[], Enclave], account: EnclaveAccount) -> TransactionSigner:
    """A signer that has the enclave read and sign the transaction, then appends the witness."""

    async def sign(tx: transaction.Transaction, magic: int, height: int) -> None:
        signature = await enclave().sign_transaction(
            account.key_id, unsigned_bytes(tx), network_magic=magic, height=height
        )
        tx.witnesses.append(verification.Witness(invocation_script(signature), account.verification_script))

    return sign
