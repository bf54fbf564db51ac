"""A tenant job's contract call: never sent when its dry run faults or its fee is over the bound, recorded
before it is sent, sent again while valid, rebuilt only once expired, delivered once it HALTed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from neo_service_layer.kernel.chain.ports.chain import (
    DryRun,
    SendOutcome,
    TransactionState,
)
from neo_service_layer.services.automation.rules.job_actions import ContractAction, InvalidAction, call_value
from neo_service_layer.services.automation.rules.job_calls import CallState, SentTx
from neo_service_layer.services.automation.use_cases.job_calls import ContractCaller
from tests.unit.automation.call_fakes import NOW, Chains, Clock, FakeChain

ACTION = ContractAction(
    contract="0x" + "44" * 20,
    method="tick",
    params=({"type": "Integer", "value": "7"}, {"type": "Hash160", "value": "0x" + "01" * 19 + "02"}),
    key_id="k1",
    max_system_fee=10**8,
    account="0x" + "aa" * 20,
    public_key="02" + "11" * 32,
)


@dataclass
class Outbox:
    keep: bool = True
    recorded: list[SentTx] = field(default_factory=list)

    async def __call__(self, tx: SentTx) -> bool:
        self.recorded.append(tx)
        return self.keep


async def _run(
    chain: FakeChain, *, attempt: int = 1, sent: SentTx | None = None, outbox: Outbox | None = None
) -> Any:
    chains = Chains(chain)
    outbox = outbox if outbox is not None else Outbox()
    result = await ContractCaller(chains, Clock()).run(  # type: ignore[arg-type]
        tenant_id="acme", job_id="job_1", action=ACTION, grant=b"G", attempt=attempt, sent=sent, record=outbox
    )
    assert chains.asked == [("acme", "job_1", b"G")]
    assert set(chain.balance_of) <= {ACTION.account}
    return result, outbox


async def test_a_run_is_recorded_before_it_is_sent_and_looked_at_again() -> None:
    chain = FakeChain()
    result, outbox = await _run(chain)
    (call,) = chain.dry_runs[0]
    assert (call.contract, call.method, call.args) == (ACTION.contract, "tick", (7, b"\x02" + b"\x01" * 19))
    assert outbox.recorded == [SentTx(chain.built[0].tx_hash, b"raw0", 120)]
    assert chain.sent == [b"raw0"]
    assert result.state is CallState.SENT
    assert result.tx == outbox.recorded[0]
    assert result.retry_at == int(NOW.timestamp()) + 2
    assert result.attempted


async def test_a_lost_lease_sends_nothing() -> None:
    chain = FakeChain()
    result, _ = await _run(chain, outbox=Outbox(keep=False))
    assert result is None
    assert chain.sent == []


async def test_a_faulting_dry_run_is_never_sent_and_is_retried_then_failed() -> None:
    chain = FakeChain(dry=DryRun(False, 0, "ABORT: not ready"))
    result, outbox = await _run(chain)
    assert chain.built == []
    assert chain.sent == []
    assert outbox.recorded == []
    assert result.state is CallState.RETRY
    assert "ABORT: not ready" in result.reason
    assert result.retry_at == int(NOW.timestamp()) + 5
    result, _ = await _run(chain, attempt=3)
    assert result.state is CallState.FAILED
    assert "gave up after 3 attempts" in result.reason


async def test_a_call_over_the_fee_bound_fails_at_once_unsent() -> None:
    chain = FakeChain(dry=DryRun(True, 10**8, None))  # + 1 % margin > maxSystemFee
    result, _ = await _run(chain)
    assert result.state is CallState.FAILED
    assert "gas limit" in result.reason
    assert chain.built == []
    assert chain.sent == []


async def test_a_short_balance_is_said_and_nothing_is_sent() -> None:
    chain = FakeChain(balance=10**6)
    result, outbox = await _run(chain)
    assert result.state is CallState.RETRY
    assert "balance too low" in result.reason
    assert ACTION.account in result.reason
    assert chain.sent == []
    assert outbox.recorded == []


async def test_an_enclave_refusal_fails_the_run() -> None:
    chain = FakeChain(refuse_signing=True)
    result, _ = await _run(chain)
    assert result.state is CallState.FAILED
    assert "the enclave refused to sign" in result.reason


async def test_a_sent_transaction_in_a_block_delivers_the_run_without_resending() -> None:
    sent = SentTx("0x" + "ab" * 32, b"old", 120)
    chain = FakeChain(states={sent.tx_hash: TransactionState(101, True, None, 4 * 10**7)})
    result, _ = await _run(chain, sent=sent)
    assert result.state is CallState.LANDED
    assert (result.block, result.gas_used) == (101, 4 * 10**7)
    assert not result.attempted
    assert chain.sent == []
    assert chain.dry_runs == []


async def test_a_faulted_transaction_is_tried_again_with_its_reason() -> None:
    sent = SentTx("0x" + "ab" * 32, b"old", 120)
    chain = FakeChain(states={sent.tx_hash: TransactionState(101, False, "ABORT: boom")})
    result, _ = await _run(chain, sent=sent)
    assert result.state is CallState.RETRY
    assert "ABORT: boom" in result.reason
    assert result.tx is None


async def test_a_pending_transaction_is_sent_again_as_is_until_it_expires() -> None:
    sent = SentTx("0x" + "ab" * 32, b"old", 120)
    chain = FakeChain(height_now=119)
    result, _ = await _run(chain, sent=sent)
    assert chain.sent == [b"old"]
    assert chain.built == []
    assert result.state is CallState.SENT
    assert result.tx == sent
    assert not result.attempted
    chain = FakeChain(height_now=120, send_outcome=SendOutcome.REJECTED)
    result, _ = await _run(chain, sent=sent)
    assert chain.sent == []
    assert chain.built == []
    assert result.state is CallState.RETRY
    assert "expired" in result.reason


async def test_a_refused_send_keeps_the_transaction_and_says_why() -> None:
    chain = FakeChain(send_outcome=SendOutcome.REJECTED)
    result, outbox = await _run(chain)
    assert result.state is CallState.SENT
    assert result.tx == outbox.recorded[0]
    assert "insufficient funds" in result.reason


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ({"type": "Integer", "value": "-5"}, -5),
        ({"type": "Boolean", "value": True}, True),
        ({"type": "String", "value": "hi"}, "hi"),
        ({"type": "ByteArray", "value": "AQI="}, b"\x01\x02"),
        ({"type": "Hash256", "value": "0x" + "00" * 31 + "ff"}, b"\xff" + b"\x00" * 31),
        ({"type": "Array", "value": [{"type": "Integer", "value": 1}]}, [1]),
    ],
)
def test_contract_parameters_become_what_the_script_pushes(param: dict[str, Any], value: Any) -> None:
    assert call_value(param) == value


@pytest.mark.parametrize(
    "param",
    [
        {"type": "Integer", "value": True},
        {"type": "Integer", "value": str(2**255)},
        {"type": "Hash160", "value": "0x12"},
        {"type": "ByteArray", "value": "not base64!"},
        {"type": "PublicKey", "value": "04" + "11" * 32},
        {"type": "Array", "value": [{"type": "Array", "value": []}]},
        {"type": "Map", "value": {}},
        {"value": 1},
    ],
)
def test_malformed_parameters_are_refused(param: dict[str, Any]) -> None:
    with pytest.raises(InvalidAction):
        call_value(param)


def test_a_contract_action_checks_its_fields() -> None:
    with pytest.raises(InvalidAction, match="maxSystemFee"):
        ContractAction(ACTION.contract, "tick", (), "k1", 51 * 10**8)
    with pytest.raises(InvalidAction, match="method"):
        ContractAction(ACTION.contract, "bad-name", (), "k1", 10**8)
    with pytest.raises(InvalidAction, match="contract"):
        ContractAction("0x12", "tick", (), "k1", 10**8)


def test_funding_warns_while_ten_runs_are_still_paid_for() -> None:
    from neo_service_layer.services.automation.rules.job_calls import NETWORK_FEE_ESTIMATE, funding

    before_any_run = funding(10**9, [], 10**8)  # 10 GAS, at most 1 GAS a run
    assert before_any_run.per_run == 10**8 + NETWORK_FEE_ESTIMATE
    assert (before_any_run.runs_left, before_any_run.low) == (9, True)
    measured = funding(10**9, [10**7, 3 * 10**7], 10**8)  # the dearest recent run, with the 1 % margin
    assert measured.per_run == 3 * 10**7 + 3 * 10**5 + NETWORK_FEE_ESTIMATE
    assert (measured.runs_left, measured.low) == (30, False)
    assert funding(0, [10**7], 10**8).runs_left == 0


async def test_a_chain_that_does_not_answer_delays_the_run_without_using_an_attempt() -> None:
    from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable

    class Down(FakeChain):
        async def dry_run(self, calls: Any) -> Any:
            raise ChainUnavailable("no RPC endpoint answered")

        async def transaction_state(self, tx_hash: str) -> Any:
            raise ChainUnavailable("no RPC endpoint answered")

    result, outbox = await _run(Down(), attempt=3)
    assert result.state is CallState.RETRY
    assert not result.attempted  # the third attempt is not spent on an outage
    assert "did not answer" in result.reason
    assert outbox.recorded == []
    sent = SentTx("0x" + "ab" * 32, b"old", 120)
    result, _ = await _run(Down(), sent=sent)
    assert result.state is CallState.SENT
    assert result.tx == sent  # kept: it may still land
