"""The N3 message gateway (``services/crosschain/contracts/message_gateway.py``) on a real neo-go privnet.

Messages come from an EVM chain (31337) whose gateway is the route's registered one, signed here with a
local secp256k1 key standing in for the enclave (64-byte r || s over Keccak-256 of the V1 preimage,
checked by ``CryptoLib.verifyWithECDsa``). Sending: a GAS transfer with the message as data, refused
(FAULT, clear message) when underpaid or over a limit. Delivery: accepted once in any order, forgeries
refused, a failing receiver (THROW caught; ABORT recorded with ``markFailed``) never loses the message and
anyone executes it again later; a receiver's refusal of another gateway cannot be caught by it; the guard
pauses a direction; receipts give the sender the result.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_asyncio
from neo3.api.wrappers import ContractMethodResult, InvokeReceipt
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.wallet import account

from neo_service_layer.enclave.wire.crosschain import XFacts, XKind, n3_chain_id, receipt_payload
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import Chain, artifact, call, events, script, stack
from tests.integration.crosschain.n3_gateway import (
    EVM_CHAIN,
    EVM_GATEWAY,
    EVM_SENDER,
    LocalCrossChainKey,
    N3Gateway,
    deploy_example,
    deploy_gateway,
    vm_bytes,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS
BASE_FEE, GAS_PRICE = 10_000_000, 10
ACCEPTED, EXECUTED, FAILED = 3, 1, 2
_NONCES = iter(range(1, 10**6))


def fresh_nonce() -> int:
    """Each test's messages get nonces of their own (the privnet and the gateway live for the session)."""
    return next(_NONCES)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway(chain: Chain) -> N3Gateway:
    guard = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, guard.script_hash, 10 * GAS)
    deployed = await deploy_gateway(chain, guard, LocalCrossChainKey())
    await chain.owner.invoke(
        call(deployed.hash, "setRoute", [EVM_CHAIN, EVM_GATEWAY, BASE_FEE, GAS_PRICE, 2_000_000])
    )
    return deployed


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def echo(chain: Chain, gateway: N3Gateway) -> types.UInt160:
    return await deploy_example(chain, "xmsg_echo_receiver", [gateway.hash, chain.owner.script_hash])


def n3_id(chain: Chain) -> int:
    return n3_chain_id(chain.net.magic)


def message(
    chain: Chain, receiver: types.UInt160, payload: bytes = b"hello", nonce: int | None = None
) -> XFacts:
    return XFacts(
        XKind.MESSAGE,
        EVM_CHAIN,
        n3_id(chain),
        EVM_GATEWAY,
        nonce if nonce is not None else fresh_nonce(),
        EVM_SENDER,
        vm_bytes(receiver),
        50_000_000,
        payload,
    )


def deliver_and_execute(g: N3Gateway, facts: XFacts) -> ContractMethodResult[object]:
    return script(
        (g.hash, "deliver", g.deliver_args(facts)),
        (g.hash, "execute", [facts.src_chain, facts.src_contract, facts.nonce]),
    )


async def inbound(chain: Chain, g: N3Gateway, facts: XFacts) -> tuple[int, int, bytes]:
    state = (
        await chain.read(g.hash, "inboundOf", facts.src_chain, facts.src_contract, facts.nonce)
    ).as_list()
    return state[0].as_int(), state[1].as_int(), state[2].as_bytes()


async def fault(invoker: deploy.AccountInvoker, call_: ContractMethodResult[object]) -> str:
    with pytest.raises(deploy.ScriptFault) as refused:
        await invoker.invoke(call_)
    return refused.value.exception


async def run(invoker: deploy.AccountInvoker, call_: ContractMethodResult[object]) -> InvokeReceipt[object]:
    """Send a script that executes a message: with GAS above the dry run's for the receiver's gas limit
    (the gateway refuses to call a receiver with less than its gas limit left)."""
    return await invoker.invoke(call_, append_system_fee=GAS)


def send_gas(chain: Chain, g: N3Gateway, amount: int, data: object) -> ContractMethodResult[object]:
    return call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.stranger.script_hash, g.hash, amount, data])


async def test_send_takes_the_fee_and_refuses_what_it_cannot_deliver(
    chain: Chain, gateway: N3Gateway
) -> None:
    fee = (await chain.read(gateway.hash, "feeOf", EVM_CHAIN, 100_000)).as_int()
    assert fee == BASE_FEE + 100_000 * GAS_PRICE
    receiver = EVM_SENDER
    stranger = chain.stranger
    assert "fee too low" in await fault(
        stranger, send_gas(chain, gateway, fee - 1, [EVM_CHAIN, receiver, b"x", 100_000])
    )
    assert "payload too large" in await fault(
        stranger, send_gas(chain, gateway, fee, [EVM_CHAIN, receiver, b"x" * 4097, 100_000])
    )
    assert "gas limit too high" in await fault(
        stranger, send_gas(chain, gateway, 10 * GAS, [EVM_CHAIN, receiver, b"x", 2_000_001])
    )
    assert "unknown route" in await fault(
        stranger, send_gas(chain, gateway, fee, [EVM_CHAIN + 1, receiver, b"x", 100_000])
    )
    assert "receiver must be 20 bytes" in await fault(
        stranger, send_gas(chain, gateway, fee, [EVM_CHAIN, receiver + b"\x00", b"x", 100_000])
    )
    assert "data must be" in await fault(stranger, send_gas(chain, gateway, fee, None))
    before = (await chain.read(gateway.hash, "nonce")).as_int()
    receipt = await stranger.invoke(send_gas(chain, gateway, fee, [EVM_CHAIN, receiver, b"payload", 100_000]))
    (sent,) = events(receipt, "MessageSent")
    assert sent[0].as_int() == before + 1
    assert sent[1].as_bytes() == vm_bytes(stranger.script_hash)
    assert sent[2].as_int() == EVM_CHAIN
    assert sent[3].as_bytes() == receiver
    assert sent[4].as_bytes() == b"payload"
    assert sent[5].as_int() == 100_000
    assert sent[6].as_int() == fee
    result = (await chain.read(gateway.hash, "resultOf", before + 1)).as_list()
    assert result[0].as_bytes() == vm_bytes(stranger.script_hash)
    assert [result[1].as_int(), result[2].as_int(), result[3].as_int()] == [EVM_CHAIN, 0, 0]


async def test_a_signed_message_executes_once(chain: Chain, gateway: N3Gateway, echo: types.UInt160) -> None:
    facts = message(chain, echo, b"ping")
    receipt = await run(chain.stranger, deliver_and_execute(gateway, facts))
    assert stack(receipt)[-1].as_bool() is True
    (executed,) = events(receipt, "MessageExecuted")
    assert executed[0].as_int() == EVM_CHAIN
    assert executed[1].as_int() == facts.nonce
    assert executed[2].as_bytes() == EVM_GATEWAY
    assert executed[3].as_bytes() == EVM_SENDER
    assert executed[4].as_bytes() == vm_bytes(echo)
    assert executed[5].as_int() == 1
    assert executed[6].as_bool() is True
    assert executed[7].as_bytes() == b"echo:ping"
    last = (await chain.read(echo, "lastMessage")).as_list()
    assert [last[0].as_int(), last[1].as_bytes(), last[2].as_int(), last[3].as_bytes()] == [
        EVM_CHAIN,
        EVM_SENDER,
        facts.nonce,
        b"ping",
    ]
    assert (await inbound(chain, gateway, facts))[:2] == (EXECUTED, 1)
    assert (await chain.read(echo, "received")).as_int() >= 1
    assert "already delivered" in await fault(
        chain.stranger, call(gateway.hash, "deliver", gateway.deliver_args(facts))
    )
    assert "already executed" in await fault(
        chain.stranger, call(gateway.hash, "execute", [EVM_CHAIN, EVM_GATEWAY, facts.nonce])
    )


async def test_forged_messages_are_refused(chain: Chain, gateway: N3Gateway, echo: types.UInt160) -> None:
    facts = message(chain, echo)
    honest = gateway.key.sign(facts)
    forgeries = [
        gateway.deliver_args(facts, LocalCrossChainKey().sign(facts)),  # wrong key
        gateway.deliver_args(replace(facts, payload=b"hellO"), honest),  # altered payload
        gateway.deliver_args(replace(facts, value=facts.value + 1), honest),  # more gas
        gateway.deliver_args(replace(facts, nonce=facts.nonce + 1), honest),  # another nonce
        gateway.deliver_args(facts, gateway.key.sign(replace(facts, dest_chain=n3_chain_id(860833102)))),
        gateway.deliver_args(facts, honest[:63] + bytes([honest[63] ^ 1])),
    ]
    for args in forgeries:
        assert "invalid signature" in await fault(chain.stranger, call(gateway.hash, "deliver", args))
    elsewhere = replace(facts, src_contract=bytes(range(20)))
    assert "unknown source contract" in await fault(
        chain.stranger, call(gateway.hash, "deliver", gateway.deliver_args(elsewhere))
    )
    other_chain = replace(facts, src_chain=EVM_CHAIN + 1)
    assert "unknown route" in await fault(
        chain.stranger, call(gateway.hash, "deliver", gateway.deliver_args(other_chain))
    )
    assert (await inbound(chain, gateway, facts))[0] == 0
    await run(chain.stranger, deliver_and_execute(gateway, facts))
    assert (await inbound(chain, gateway, facts))[0] == EXECUTED


async def test_a_throwing_receiver_keeps_the_message_retryable(
    chain: Chain, gateway: N3Gateway, echo: types.UInt160
) -> None:
    closed = await deploy_example(
        chain, "xmsg_echo_receiver", [gateway.hash, chain.owner.script_hash], deployer=chain.owner
    )
    await chain.owner.invoke(call(closed, "setClosed", [True]))
    first = message(chain, closed, b"one")
    receipt = await run(chain.stranger, deliver_and_execute(gateway, first))
    assert stack(receipt)[-1].as_bool() is False
    (failed,) = events(receipt, "MessageExecuted")
    assert failed[6].as_bool() is False
    assert failed[7].as_bytes() == b"receiver threw an exception"
    assert await inbound(chain, gateway, first) == (FAILED, 1, b"receiver threw an exception")
    # a later message is not blocked
    later = message(chain, echo, b"later")
    await run(chain.stranger, deliver_and_execute(gateway, later))
    assert (await inbound(chain, gateway, later))[0] == EXECUTED
    # anyone executes it again once the receiver is open
    await chain.owner.invoke(call(closed, "setClosed", [False]))
    again = await run(chain.stranger, call(gateway.hash, "execute", [EVM_CHAIN, EVM_GATEWAY, first.nonce]))
    assert stack(again)[-1].as_bool() is True
    (done,) = events(again, "MessageExecuted")
    assert (done[5].as_int(), done[6].as_bool(), done[7].as_bytes()) == (2, True, b"echo:one")
    assert (await inbound(chain, gateway, first))[:2] == (EXECUTED, 2)
    assert (await chain.read(closed, "received")).as_int() == 1


async def test_an_aborting_receiver_is_recorded_and_never_lost(chain: Chain, gateway: N3Gateway) -> None:
    aborting = await deploy_example(chain, "xmsg_aborting_receiver", gateway.hash)
    facts = message(chain, aborting, b"doomed")
    reason = await fault(chain.stranger, deliver_and_execute(gateway, facts))
    assert "aborting receiver refuses every message" in reason
    mark = script(
        (gateway.hash, "deliver", gateway.deliver_args(facts)),
        (gateway.hash, "markFailed", [EVM_CHAIN, EVM_GATEWAY, facts.nonce, reason[:200]]),
    )
    assert "only the operator" in await fault(chain.stranger, mark)
    receipt = await chain.operator.invoke(mark)
    (failed,) = events(receipt, "MessageExecuted")
    assert (failed[5].as_int(), failed[6].as_bool(), failed[7].as_bytes()) == (
        1,
        False,
        reason[:200].encode(),
    )
    assert await inbound(chain, gateway, facts) == (FAILED, 1, reason[:200].encode())
    # still there: executing it again faults again (nothing changes), and it stays FAILED
    await fault(chain.stranger, call(gateway.hash, "execute", [EVM_CHAIN, EVM_GATEWAY, facts.nonce]))
    assert (await inbound(chain, gateway, facts))[0] == FAILED


async def test_another_gateway_cannot_catch_a_receivers_refusal(
    chain: Chain, gateway: N3Gateway, echo: types.UInt160
) -> None:
    """A second gateway calls receivers inside ``try`` (it catches a THROW): the receivers' gateway check
    ABORTs, so executing a message through it FAULTs instead of recording a failure and going on."""
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 50 * GAS)
    key = LocalCrossChainKey()
    nef, manifest = artifact("message_gateway")
    data = [chain.owner.script_hash, gateway.guard.script_hash, chain.operator.script_hash, key.public_key]
    other = N3Gateway(chain, await deploy.deploy_contract(deployer, nef, manifest, data), key, gateway.guard)
    assert other.hash != gateway.hash
    await chain.owner.invoke(
        call(other.hash, "setRoute", [EVM_CHAIN, EVM_GATEWAY, BASE_FEE, GAS_PRICE, 2_000_000])
    )
    received = (await chain.read(echo, "received")).as_int()
    aborting = await deploy_example(chain, "xmsg_aborting_receiver", gateway.hash, deployer=deployer)
    for receiver in (echo, aborting):
        facts = message(chain, receiver, b"elsewhere")
        assert "only the message gateway" in await fault(chain.stranger, deliver_and_execute(other, facts))
        assert (await inbound(chain, other, facts))[0] == 0
    assert (await chain.read(echo, "received")).as_int() == received


async def test_the_guard_pauses_a_direction(chain: Chain, gateway: N3Gateway, echo: types.UInt160) -> None:
    g = gateway
    assert "only the guard" in await fault(chain.owner, call(g.hash, "setPaused", [EVM_CHAIN, True, True]))
    await g.guard.invoke(call(g.hash, "setPaused", [EVM_CHAIN, True, True]))
    try:
        fee = (await chain.read(g.hash, "feeOf", EVM_CHAIN, 0)).as_int()
        assert "sending to this chain is paused" in await fault(
            chain.stranger, send_gas(chain, g, fee, [EVM_CHAIN, EVM_SENDER, b"x", 0])
        )
        facts = message(chain, echo)
        assert "delivering from this chain is paused" in await fault(
            chain.stranger, deliver_and_execute(g, facts)
        )
    finally:
        await g.guard.invoke(call(g.hash, "setPaused", [EVM_CHAIN, False, False]))
    await run(chain.stranger, deliver_and_execute(g, facts))
    assert (await inbound(chain, g, facts))[0] == EXECUTED


async def test_administration_is_the_owners(chain: Chain, gateway: N3Gateway) -> None:
    g = gateway
    stranger = chain.stranger.script_hash
    for method, args in (
        ("setRoute", [EVM_CHAIN, EVM_GATEWAY, 0, 0, 0]),
        ("setLimits", [1]),
        ("setSigner", [LocalCrossChainKey().public_key]),
        ("setGuard", [stranger]),
        ("setOperator", [stranger]),
        ("transferOwnership", [stranger]),
        ("withdrawFees", [stranger, 1]),
    ):
        assert "only the owner" in await fault(chain.stranger, call(g.hash, method, args))
        assert "only the owner" in await fault(g.guard, call(g.hash, method, args))
    assert (await chain.read(g.hash, "owner")).as_uint160() == chain.owner.script_hash


async def test_receipts_give_the_sender_its_answer(chain: Chain, gateway: N3Gateway) -> None:
    g = gateway
    sender = await deploy_example(chain, "xmsg_sender", g.hash)
    await deploy.fund(chain.committee, sender, 10 * GAS)
    receipt = await chain.stranger.invoke(call(sender, "ask", [EVM_CHAIN, EVM_SENDER, b"question", 100_000]))
    nonce = stack(receipt)[0].as_int()
    (sent,) = events(receipt, "MessageSent")
    assert sent[1].as_bytes() == vm_bytes(sender)

    def receipt_facts(attempt: int, ok: bool, result: bytes) -> XFacts:
        return XFacts(
            XKind.RECEIPT,
            EVM_CHAIN,
            n3_id(chain),
            EVM_GATEWAY,
            nonce,
            EVM_SENDER,
            vm_bytes(sender),
            attempt,
            receipt_payload(ok, result),
        )

    failed = receipt_facts(1, False, b"revert data")
    deliver_receipt = "deliverReceipt"
    assert "invalid signature" in await fault(
        chain.stranger,
        call(g.hash, deliver_receipt, g.receipt_args(failed, LocalCrossChainKey().sign(failed))),
    )
    assert "invalid signature" in await fault(
        chain.stranger,
        call(
            g.hash,
            deliver_receipt,
            g.receipt_args(receipt_facts(1, True, b"revert data"), g.key.sign(failed)),
        ),
    )
    assert "unknown message" in await fault(
        chain.stranger, call(g.hash, deliver_receipt, g.receipt_args(replace(failed, receiver=bytes(20))))
    )
    await chain.stranger.invoke(call(g.hash, deliver_receipt, g.receipt_args(failed)))
    assert "stale receipt" in await fault(
        chain.stranger, call(g.hash, deliver_receipt, g.receipt_args(failed))
    )
    answered = receipt_facts(2, True, b"echo:question")
    stored = await chain.stranger.invoke(call(g.hash, deliver_receipt, g.receipt_args(answered)))
    (event,) = events(stored, "ReceiptStored")
    assert (event[0].as_int(), event[3].as_bool(), event[4].as_bytes()) == (nonce, True, b"echo:question")
    answer = (await chain.read(sender, "answerOf", nonce)).as_list()
    assert [answer[2].as_int(), answer[3].as_int(), answer[4].as_bytes()] == [EXECUTED, 2, b"echo:question"]
    assert "stale receipt" in await fault(
        chain.stranger, call(g.hash, deliver_receipt, g.receipt_args(receipt_facts(3, False, b"late")))
    )


async def test_a_relayer_cannot_starve_the_receiver(
    chain: Chain, gateway: N3Gateway, echo: types.UInt160
) -> None:
    """Sent with only the dry run's GAS, the execution has less than the message's gas limit left for the
    receiver: the whole transaction FAULTs (the delivery in it too), so the message is not spent."""
    facts = message(chain, echo)
    receipt = await chain.stranger.invoke(deliver_and_execute(gateway, facts), allow_fault=True)
    assert str(receipt.state) == "FAULT"  # the RPC's text (typed VMState)
    assert "not enough GAS left for the receiver's gas limit" in (receipt.exception or "")
    assert (await inbound(chain, gateway, facts))[0] == 0
    await run(chain.stranger, deliver_and_execute(gateway, facts))
    assert (await inbound(chain, gateway, facts))[0] == EXECUTED


async def test_a_receiver_that_is_no_contract_fails_retryably(chain: Chain, gateway: N3Gateway) -> None:
    facts = message(chain, types.UInt160(bytes(range(200, 220))), b"early")
    receipt = await run(chain.stranger, deliver_and_execute(gateway, facts))
    assert stack(receipt)[-1].as_bool() is False
    reason = b"receiver has no onMessage(srcChain, sender, nonce, payload)"
    assert await inbound(chain, gateway, facts) == (FAILED, 1, reason)
