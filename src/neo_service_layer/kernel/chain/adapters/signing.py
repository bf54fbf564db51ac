"""Transaction signing through the enclave: watch-only accounts on this side, keys inside the enclave.

``enclave_signing_function`` is a neo-mamba ``SigningFunction``: it sends the transaction hash and the
network magic to the enclave (``SignatureFormat.NEO_TX``: the enclave signs ``magic (u32 LE) || hash``)
and adds the standard single-signature witness. It fits ``TxBuilder.add_signer`` as well as
:class:`neo_service_layer.kernel.chain.adapters.neo_chain.NeoChain`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neo3 import vm
from neo3.api.helpers import signing
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography, types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction, verification
from neo3.wallet import utils as wallet_utils

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyId, Purpose, SignatureFormat
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


def enclave_signing_function(
    enclave: Callable[[], Enclave], account: EnclaveAccount, tenant: str = PLATFORM_KEY_OWNER
) -> signing.SigningFunction:
    """A neo-mamba signing function that asks the enclave to sign and appends the witness."""

    async def sign(tx: transaction.Transaction, details: signing.SigningDetails) -> Any:
        signature = await enclave().sign(
            account.key_id,
            tx.hash().to_array(),
            tenant=tenant,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            network_magic=details.network,
        )
        tx.witnesses.append(verification.Witness(invocation_script(signature), account.verification_script))

    return sign
