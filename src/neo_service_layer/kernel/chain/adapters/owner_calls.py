"""Owner operations on the service contracts: built here, signed only by the owner.

The owner is cold and never the sender (``kernel/chain/contracts/service_admin.py``). On a real network
it is a committee or multisig account (``NSL_NEO_CONTRACT_OWNER``) that signs elsewhere, so an owner
operation is only built and printed (``OwnerCall.describe``); in development it is the enclave's
``contract-owner`` key, which only the ``cli`` client may sign with (``send_as_owner``). An update is two
operations ``updateDelay()`` blocks apart: ``scheduleUpdate(update_hashes(...))``, then ``update``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.api.helpers import signing, txbuilder
from neo3.api.wrappers import ChainFacade, ContractMethodResult
from neo3.core import types
from neo3.network.payloads import transaction, verification
from neo3.wallet import utils as wallet_utils

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, Purpose, SignatureFormat
from neo_service_layer.kernel.chain.adapters.privnet_deploy import ScriptFault, TransactionFailed
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, invocation_script
from neo_service_layer.kernel.enclave_client.ports import Enclave


@dataclass(frozen=True, slots=True)
class OwnerCall:
    """One owner operation: the script to run with the owner's ``CalledByEntry`` witness."""

    contract: types.UInt160
    method: str
    script: bytes

    def describe(self, owner: types.UInt160) -> dict[str, str]:
        """What the owner's signers need to build and sign the transaction elsewhere."""
        return {
            "contract": f"0x{self.contract}",
            "method": self.method,
            "signer": wallet_utils.script_hash_to_address(owner),
            "scope": "CalledByEntry",
            "script_hex": self.script.hex(),
            "script_base64": base64.b64encode(self.script).decode(),
        }


def owner_call(contract: types.UInt160, method: str, args: Sequence[Any] = ()) -> OwnerCall:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    builder.emit_contract_call_with_args(contract, method, list(args))
    return OwnerCall(contract, method, builder.to_array())


def update_hashes(nef: Path, manifest: Path) -> tuple[bytes, bytes]:
    """What ``scheduleUpdate`` announces: SHA-256 of the NEF file and of the manifest JSON exactly as
    ``update`` will be given them (``update_call``)."""
    return hashlib.sha256(nef.read_bytes()).digest(), hashlib.sha256(manifest.read_bytes()).digest()


def schedule_update_call(contract: types.UInt160, nef: Path, manifest: Path) -> OwnerCall:
    return owner_call(contract, "scheduleUpdate", list(update_hashes(nef, manifest)))


def update_call(contract: types.UInt160, nef: Path, manifest: Path) -> OwnerCall:
    return owner_call(contract, "update", [nef.read_bytes(), manifest.read_text()])


def _owner_signing(enclave: Callable[[], Enclave], owner: EnclaveAccount) -> signing.SigningFunction:
    """neo-mamba signing through the enclave with purpose ``contract-owner`` (``cli`` client only)."""

    async def sign(tx: transaction.Transaction, details: signing.SigningDetails) -> None:
        signature = await enclave().sign(
            owner.key_id,
            tx.hash().to_array(),
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.CONTRACT_OWNER,
            fmt=SignatureFormat.NEO_TX,
            network_magic=details.network,
        )
        tx.witnesses.append(verification.Witness(invocation_script(signature), owner.verification_script))

    return sign


async def send_as_owner(
    facade: ChainFacade,
    enclave: Callable[[], Enclave],
    owner: EnclaveAccount,
    call: OwnerCall,
    *,
    timeout: float,
) -> types.UInt256:
    """Sign ``call`` with the development owner key in the enclave and send it; refused (``ScriptFault``)
    when its dry-run faults, ``TransactionFailed`` when it faults on chain."""
    signer = verification.Signer(owner.script_hash, verification.WitnessScope.CALLED_BY_ENTRY)
    sign = _owner_signing(enclave, owner)
    dry = await facade.test_invoke_raw(ContractMethodResult(call.script), signers=[(sign, signer)])
    if dry.result.state != "HALT":
        raise ScriptFault(dry.result.exception, dry.result.gas_consumed)
    async with noderpc.NeoRpcClient(facade.rpc_host, timeout=10.0) as client:
        builder = txbuilder.TxBuilder(client, call.script)
        await builder.init()
        builder.tx.nonce = secrets.randbits(32)
        builder.add_signer(sign, signer)
        await builder.set_valid_until_block(100)
        builder.tx.system_fee = dry.result.gas_consumed
        builder.tx.network_fee = 999  # provisional: priced from the witness below, then signed again
        await builder.build_and_sign()
        await builder.calculate_network_fee()
        builder.tx.witnesses = []
        tx = await builder.build_and_sign()
        tx_hash: types.UInt256 = await client.send_transaction(tx)
        receipt = await client.wait_for_transaction_receipt(tx_hash, timeout=timeout, retry_delay=0.1)
    if receipt.execution.state != "HALT":
        raise TransactionFailed(tx_hash, receipt.execution.exception)
    return tx_hash
