"""Tenant jobs on the Neo network: the call's script, its grant, and a ``Chain`` signing with the job key.

The script of a job's call is written once by ``script_for`` (neo-mamba's ``ScriptBuilder``) both when
the api asks the enclave for the grant and each time the worker builds a run's transaction, so the
enclave finds in the transaction byte for byte what it granted. The ``Chain`` of a job is the kernel's
``NeoChain`` over the shared RPC pool with the job key's account as the only signer
(``CalledByEntry``) and the enclave's ``automation_sign`` as its signer.
"""

from __future__ import annotations

from collections.abc import Callable

from neo3.network.payloads import transaction, verification

from neo_service_layer.enclave.wire.automation import JobGrant
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain, NeoRpcEndpoint, script_for
from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, invocation_script, unsigned_bytes
from neo_service_layer.kernel.chain.ports.chain import Chain, ContractCall
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.automation.rules.job_actions import ContractAction
from neo_service_layer.services.automation.rules.job_calls import SYSTEM_FEE_MARGIN

#: a run's transaction is valid this many blocks: a new one is built only after it expired
JOB_VALID_UNTIL_BLOCKS = 20


def call_script(action: ContractAction) -> bytes:
    """The one call a job makes, as the transaction's script."""
    return script_for([ContractCall(action.contract, action.method, action.args())])  # type: ignore[arg-type]


class EnclaveJobChains:
    """Implements ``ports.JobChains`` and ``ports.JobGrants`` for one Neo network."""

    def __init__(self, pool: RpcPool[NeoRpcEndpoint], magic: int, enclave: Callable[[], Enclave]) -> None:
        self._pool = pool
        self._magic = magic
        self._enclave = enclave

    async def grant(self, tenant_id: str, job_id: str, action: ContractAction) -> JobGrant:
        return await self._enclave().automation_grant(
            tenant=tenant_id,
            job_id=job_id,
            key_id=action.key_id,
            network_magic=self._magic,
            script=call_script(action),
            max_system_fee=action.max_system_fee,
        )

    def for_job(self, tenant_id: str, job_id: str, action: ContractAction, grant: bytes) -> Chain:
        account = EnclaveAccount(action.key_id, bytes.fromhex(action.public_key))
        enclave = self._enclave

        async def sign(tx: transaction.Transaction, magic: int, height: int) -> None:
            signature = await enclave().automation_sign(
                tenant=tenant_id,
                job_id=job_id,
                key_id=action.key_id,
                grant=grant,
                transaction=unsigned_bytes(tx),
                network_magic=magic,
                height=height,
            )
            tx.witnesses.append(
                verification.Witness(invocation_script(signature), account.verification_script)
            )

        return NeoChain(
            self._pool,
            magic=self._magic,
            sender=account,
            sign=sign,
            valid_until_blocks=JOB_VALID_UNTIL_BLOCKS,
            system_fee_margin=SYSTEM_FEE_MARGIN,
        )
