"""One run of a tenant job that calls a contract: dry run, build, record, send, then look until it lands.

The transaction is signed by the enclave with the tenant's key, and only if it is the call the tenant
granted when the job was created (``enclave/job_signing.py``); the key's account pays. Nothing whose dry
run faults is sent. The signed transaction is recorded (``record``, under the run's lease) before it
is sent; a run found with a recorded transaction is looked at on chain first: in a block, the run is
done (delivered when it HALTed, tried again when it faulted); still valid, the same bytes are sent
again (harmless); expired, a new attempt builds a new one (``rules.job_calls``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from neo_service_layer.enclave.wire.errors import DependencyUnavailable
from neo_service_layer.enclave.wire.keys import KeyDisabled, PolicyDenied
from neo_service_layer.kernel.chain.ports.chain import Chain, ContractCall, SendOutcome
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.services.automation.ports import JobChains
from neo_service_layer.services.automation.rules.job_actions import ContractAction
from neo_service_layer.services.automation.rules.job_calls import (
    CALL_BACKOFF_SECONDS,
    CHECK_AFTER_SECONDS,
    CallResult,
    CallState,
    SentTx,
    balance_short,
    fee_over_bound,
    retry_or_fail,
    system_fee,
)

Record = Callable[[SentTx], Awaitable[bool]]


class ContractCaller:
    def __init__(self, chains: JobChains, clock: Clock) -> None:
        self._chains = chains
        self._clock = clock

    async def run(
        self,
        *,
        tenant_id: str,
        job_id: str,
        action: ContractAction,
        grant: bytes,
        attempt: int,
        sent: SentTx | None,
        record: Record,
    ) -> CallResult | None:
        """The run's next state; ``None`` when its lease was lost before sending (nothing to record).

        The chain or the enclave not answering uses no attempt: the run is looked at again
        after a pause, its recorded transaction (if any) kept, so a node outage delays runs, never fails them.
        """
        now = int(self._clock.now().timestamp())
        try:
            return await self._run(tenant_id, job_id, action, grant, attempt, sent, record, now)
        except (DependencyUnavailable, EnclaveUnavailable) as exc:
            state = CallState.SENT if sent is not None else CallState.RETRY
            why = f"the chain did not answer: {exc}"[:500]
            return CallResult(state, why, now + CALL_BACKOFF_SECONDS[0], sent, attempted=False)

    async def _run(
        self,
        tenant_id: str,
        job_id: str,
        action: ContractAction,
        grant: bytes,
        attempt: int,
        sent: SentTx | None,
        record: Record,
        now: int,
    ) -> CallResult | None:
        chain = self._chains.for_job(tenant_id, job_id, action, grant)
        if sent is not None:
            return await self._look(chain, sent, attempt, now)
        call = ContractCall(action.contract, action.method, action.args())  # type: ignore[arg-type]
        dry = await chain.dry_run([call])
        if not dry.halted:
            return retry_or_fail(f"the call faults in the dry run: {dry.exception or 'FAULT'}", attempt, now)
        over = fee_over_bound(system_fee(dry.gas_consumed), action.max_system_fee)
        if over is not None:
            return CallResult(CallState.FAILED, over)
        try:
            tx = await chain.build_transaction([call], dry)
        except (PolicyDenied, KeyDisabled) as exc:
            return CallResult(CallState.FAILED, f"the enclave refused to sign: {exc}")
        short = balance_short(
            await chain.gas_balance(action.account), tx.system_fee + tx.network_fee, action.account
        )
        if short is not None:
            return retry_or_fail(short, attempt, now)
        signed = SentTx(tx.tx_hash, tx.raw, tx.valid_until_block)
        if not await record(signed):
            return None
        return await self._send(chain, signed, now, attempted=True)

    async def _look(self, chain: Chain, sent: SentTx, attempt: int, now: int) -> CallResult:
        state = await chain.transaction_state(sent.tx_hash)
        if state.block is not None:
            if state.halted:
                return CallResult(
                    CallState.LANDED, tx=sent, block=state.block, gas_used=state.gas_consumed, attempted=False
                )
            why = f"transaction {sent.tx_hash} faulted in block {state.block}: {state.exception or 'FAULT'}"
            return retry_or_fail(why, attempt, now)
        height = await chain.height()
        if height < sent.valid_until:
            return await self._send(chain, sent, now, attempted=False)
        why = f"transaction {sent.tx_hash} expired at block {sent.valid_until} without being included"
        return retry_or_fail(why, attempt, now)

    @staticmethod
    async def _send(chain: Chain, sent: SentTx, now: int, *, attempted: bool) -> CallResult:
        try:
            result = await chain.send(sent.raw)
        except DependencyUnavailable as exc:  # sent again at the next look
            reason: str | None = f"not sent yet: {exc}"
        else:
            reason = (
                f"the node refused it: {result.detail}"[:500]
                if result.outcome is SendOutcome.REJECTED
                else None
            )
        return CallResult(CallState.SENT, reason, now + CHECK_AFTER_SECONDS, sent, attempted=attempted)
