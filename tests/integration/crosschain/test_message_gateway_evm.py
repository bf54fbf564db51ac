"""The EVM message gateway (``contracts/evm/MessageGateway.sol``) on a real anvil.

Messages come from an N3 network (cross-chain id 2^63 + 42) whose gateway is registered as the route's
gateway; they are signed here with a local secp256k1 key standing in for the enclave (the enclave's own
signing is tested in ``tests/e2e/crosschain``). Sending: fees, limits and pauses refused with named
errors. Delivery: executes once, in any order; forgeries refused; a failing receiver leaves the
message retryable by anyone; receipts give the sender the result on its own chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from neo_service_layer.enclave.wire.crosschain import XFacts, XKind
from tests.anvil_support import Anvil, dev_account
from tests.integration.crosschain.evm_gateway import (
    N3_CHAIN,
    N3_GATEWAY,
    N3_SENDER,
    Evm,
    message_digest,
    message_struct,
    receipt_facts,
    receipt_struct,
    revert_data,
    selector,
    sign_digest,
    stranger,
)

pytestmark = [pytest.mark.slow]

OWNER, RELAYER, USER = dev_account(0), dev_account(1), dev_account(2)
BASE_FEE, GAS_PRICE, MAX_GAS = 10**15, 10**9, 2_000_000
FAILED, EXECUTED = 2, 1


@dataclass
class Setup:
    evm: Evm
    gateway: Contract
    echo: Contract
    signer: LocalAccount
    guard: LocalAccount

    def message(self, nonce: int, payload: bytes = b"hello", *, receiver: Contract | None = None) -> XFacts:
        return XFacts(
            XKind.MESSAGE,
            N3_CHAIN,
            self.evm.chain_id,
            N3_GATEWAY,
            nonce,
            N3_SENDER,
            bytes.fromhex((receiver or self.echo).address[2:]),
            200_000,
            payload,
        )

    def signed(self, facts: XFacts, key: LocalAccount | None = None) -> bytes:
        return sign_digest(key or self.signer, message_digest(facts))

    def deliver(self, facts: XFacts, signature: bytes | None = None) -> list[dict[str, Any]]:
        call = self.gateway.functions.deliver(message_struct(facts), signature or self.signed(facts))
        receipt = self.evm.transact(RELAYER, call)
        return [dict(e["args"]) for e in self.gateway.events.MessageExecuted().process_receipt(receipt)]

    def inbound(self, facts: XFacts) -> tuple[int, int, bytes]:
        status, attempts, reason = self.gateway.functions.inboundOf(
            facts.src_chain, facts.src_contract, facts.nonce
        ).call()
        return int(status), int(attempts), bytes(reason)


def _fund(evm: Evm, to: str) -> None:
    transaction: dict[str, Any] = {
        "from": OWNER.address,
        "to": to,
        "value": 10**18,
        "nonce": evm.w3.eth.get_transaction_count(OWNER.address, "pending"),
        "chainId": evm.chain_id,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
    }
    evm.w3.eth.wait_for_transaction_receipt(
        evm.w3.eth.send_raw_transaction(OWNER.sign_transaction(transaction).raw_transaction)
    )


@pytest.fixture
def setup(anvil: Anvil, evm_contracts_built: None) -> Setup:
    evm = Evm.on(anvil)
    signer, guard = stranger(), stranger()
    _fund(evm, guard.address)
    gateway = evm.deploy(OWNER, "MessageGateway", signer.address, guard.address)
    evm.transact(OWNER, gateway.functions.setRoute(N3_CHAIN, N3_GATEWAY, BASE_FEE, GAS_PRICE, MAX_GAS))
    echo = evm.deploy(OWNER, "EchoReceiver", gateway.address)
    return Setup(evm, gateway, echo, signer, guard)


def test_send_numbers_messages_and_refuses_what_it_cannot_deliver(setup: Setup) -> None:
    gateway, evm = setup.gateway, setup.evm
    fee = BASE_FEE + 100_000 * GAS_PRICE
    assert gateway.functions.feeOf(N3_CHAIN, 100_000).call() == fee
    send = gateway.functions.send
    assert (
        evm.refused(USER, send(N3_CHAIN + 1, N3_SENDER, b"x", 100_000), value=fee)
        == selector("UnknownRoute(uint256)") + encode(["uint256"], [N3_CHAIN + 1]).hex()
    )
    assert evm.refused(USER, send(N3_CHAIN, b"\x01" * 21, b"x", 100_000), value=fee) == selector(
        "BadReceiver()"
    )
    too_big = evm.refused(USER, send(N3_CHAIN, N3_SENDER, b"x" * 4097, 100_000), value=fee)
    assert (
        too_big
        == selector("PayloadTooLarge(uint256,uint256)") + encode(["uint256", "uint256"], [4097, 4096]).hex()
    )
    too_much_gas = evm.refused(USER, send(N3_CHAIN, N3_SENDER, b"x", 2_000_001), value=10**18)
    assert (
        too_much_gas
        == selector("GasLimitTooHigh(uint256,uint256)")
        + encode(["uint256", "uint256"], [2_000_001, 2_000_000]).hex()
    )
    underpaid = evm.refused(USER, send(N3_CHAIN, N3_SENDER, b"x", 100_000), value=fee - 1)
    assert (
        underpaid
        == selector("FeeTooLow(uint256,uint256)") + encode(["uint256", "uint256"], [fee - 1, fee]).hex()
    )

    for expected in (1, 2):
        receipt = evm.transact(USER, send(N3_CHAIN, N3_SENDER, b"payload %d" % expected, 100_000), value=fee)
        (event,) = gateway.events.MessageSent().process_receipt(receipt)
        assert event["args"]["nonce"] == expected
        assert event["args"]["sender"] == USER.address
        assert event["args"]["destChain"] == N3_CHAIN
        assert event["args"]["receiver"] == N3_SENDER
        assert event["args"]["payload"] == b"payload %d" % expected
        assert event["args"]["gasLimit"] == 100_000
        assert event["args"]["fee"] == fee
    assert gateway.functions.resultOf(2).call() == [USER.address, N3_CHAIN, 0, 0, b""]
    assert evm.w3.eth.get_balance(gateway.address) == 2 * fee


def test_a_signed_message_executes_once(setup: Setup) -> None:
    facts = setup.message(7, b"ping")
    # the contract's digest is the keccak-256 of the enclave's preimage (wire/crosschain.py)
    assert setup.gateway.functions.messageDigest(message_struct(facts)).call() == message_digest(facts)
    (executed,) = setup.deliver(facts)
    assert executed["ok"] is True
    assert executed["result"] == b"echo:ping"
    assert executed["srcChain"] == N3_CHAIN
    assert executed["nonce"] == 7
    assert executed["srcContract"] == N3_GATEWAY
    assert executed["sender"] == N3_SENDER
    assert executed["attempt"] == 1
    echo = setup.echo.functions
    assert echo.received().call() == 1
    assert echo.lastPayload().call() == b"ping"
    assert echo.lastSender().call() == N3_SENDER
    assert echo.lastSrcChain().call() == N3_CHAIN
    assert setup.inbound(facts) == (EXECUTED, 1, b"")
    replay = setup.evm.refused(
        RELAYER, setup.gateway.functions.deliver(message_struct(facts), setup.signed(facts))
    )
    assert (
        replay
        == selector("AlreadyDelivered(uint256,uint256)") + encode(["uint256", "uint256"], [N3_CHAIN, 7]).hex()
    )
    assert (
        setup.evm.refused(RELAYER, setup.gateway.functions.retry(message_struct(facts)))
        == selector("NotRetryable(uint256,uint256)") + encode(["uint256", "uint256"], [N3_CHAIN, 7]).hex()
    )
    assert echo.received().call() == 1


def test_forged_messages_are_refused(setup: Setup) -> None:
    facts = setup.message(1)
    honest = setup.signed(facts)
    deliver = setup.gateway.functions.deliver
    bad_signature = selector("BadSignature()")
    wrong_key = setup.signed(facts, stranger())
    assert setup.evm.refused(RELAYER, deliver(message_struct(facts), wrong_key)) == bad_signature
    altered = replace(facts, payload=b"hellO")
    assert setup.evm.refused(RELAYER, deliver(message_struct(altered), honest)) == bad_signature
    more_gas = replace(facts, value=300_000)
    assert setup.evm.refused(RELAYER, deliver(message_struct(more_gas), honest)) == bad_signature
    other_sender = replace(facts, sender=bytes(20))
    assert setup.evm.refused(RELAYER, deliver(message_struct(other_sender), honest)) == bad_signature
    other_nonce = replace(facts, nonce=2)
    assert setup.evm.refused(RELAYER, deliver(message_struct(other_nonce), honest)) == bad_signature
    # signed for another destination chain: this chain rebuilds the digest with its own chain id
    other_chain = replace(facts, dest_chain=47763)
    assert (
        setup.evm.refused(RELAYER, deliver(message_struct(facts), setup.signed(other_chain))) == bad_signature
    )
    # from another source contract: not the route's gateway, whatever the signature
    elsewhere = replace(facts, src_contract=bytes(range(2, 22)))
    refused = setup.evm.refused(RELAYER, deliver(message_struct(elsewhere), setup.signed(elsewhere)))
    assert refused == selector("UnknownSourceContract(uint256)") + encode(["uint256"], [N3_CHAIN]).hex()
    # the malleated twin (s -> n - s, v flipped) of the honest signature
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(honest[32:64], "big")
    twin = honest[:32] + (n - s).to_bytes(32, "big") + bytes([55 - honest[64]])
    assert setup.evm.refused(RELAYER, deliver(message_struct(facts), twin)) == bad_signature
    assert setup.evm.refused(RELAYER, deliver(message_struct(facts), honest[:64])) == bad_signature
    assert setup.echo.functions.received().call() == 0
    (executed,) = setup.deliver(facts, honest)
    assert executed["ok"] is True


def test_a_failing_receiver_keeps_the_message_retryable_and_blocks_nothing(setup: Setup) -> None:
    setup.evm.transact(OWNER, setup.echo.functions.setClosed(True))
    first = setup.message(1, b"one")
    (failed,) = setup.deliver(first)
    assert failed["ok"] is False
    assert failed["attempt"] == 1
    assert failed["result"][:4].hex() == selector("Error(string)")[2:]
    assert decode(["string"], failed["result"][4:]) == ("echo receiver closed",)
    status, attempts, reason = setup.inbound(first)
    assert (status, attempts) == (FAILED, 1)
    assert reason == failed["result"]
    # later nonces are not blocked: nonce 3 to another receiver, before nonce 2
    other = setup.evm.deploy(OWNER, "EchoReceiver", setup.gateway.address)
    (third,) = setup.deliver(setup.message(3, b"three", receiver=other))
    assert third["ok"] is True
    # a receiver that always reverts: its custom error is the reason
    refusing = setup.evm.deploy(OWNER, "RevertingReceiver", setup.gateway.address)
    (refused,) = setup.deliver(setup.message(2, b"two", receiver=refusing))
    assert refused["ok"] is False
    assert refused["result"] == bytes.fromhex(selector("Refused(uint256,bytes)")[2:]) + encode(
        ["uint256", "bytes"], [2, b"two"]
    )
    # anyone retries, with no signature; a wrong copy of the message is refused
    retry = setup.gateway.functions.retry
    mismatch = setup.evm.refused(USER, retry(message_struct(replace(first, payload=b"One"))))
    assert mismatch == selector("MessageMismatch()")
    receipt = setup.evm.transact(USER, retry(message_struct(first)))
    (again,) = setup.gateway.events.MessageExecuted().process_receipt(receipt)
    assert again["args"]["ok"] is False
    assert again["args"]["attempt"] == 2
    setup.evm.transact(OWNER, setup.echo.functions.setClosed(False))
    receipt = setup.evm.transact(USER, retry(message_struct(first)))
    (done,) = setup.gateway.events.MessageExecuted().process_receipt(receipt)
    assert done["args"]["ok"] is True
    assert done["args"]["attempt"] == 3
    assert done["args"]["result"] == b"echo:one"
    assert setup.inbound(first) == (EXECUTED, 3, b"")
    assert (
        setup.evm.refused(USER, retry(message_struct(first)))
        == selector("NotRetryable(uint256,uint256)") + encode(["uint256", "uint256"], [N3_CHAIN, 1]).hex()
    )
    assert setup.echo.functions.received().call() == 1


def test_a_relayer_cannot_starve_the_receiver(setup: Setup) -> None:
    facts = setup.message(1)
    call = setup.gateway.functions.deliver(message_struct(facts), setup.signed(facts))
    with pytest.raises((ContractCustomError, ContractLogicError)) as starved:
        call.call({"from": RELAYER.address, "gas": 250_000})
    assert revert_data(starved.value).startswith(selector("NotEnoughGasForCall(uint256)"))
    assert setup.inbound(facts) == (0, 0, b"")


def test_the_guard_pauses_a_direction(setup: Setup) -> None:
    gateway, evm = setup.gateway, setup.evm
    assert evm.refused(OWNER, gateway.functions.setPaused(N3_CHAIN, True, True)) == selector("NotGuard()")
    evm.transact(setup.guard, gateway.functions.setPaused(N3_CHAIN, True, False))
    fee = gateway.functions.feeOf(N3_CHAIN, 1000).call()
    send = gateway.functions.send(N3_CHAIN, N3_SENDER, b"x", 1000)
    assert (
        evm.refused(USER, send, value=fee)
        == selector("SendingPaused(uint256)") + encode(["uint256"], [N3_CHAIN]).hex()
    )
    setup.deliver(setup.message(1))  # the other direction still works
    evm.transact(setup.guard, gateway.functions.setPaused(N3_CHAIN, False, True))
    evm.transact(USER, send, value=fee)
    facts = setup.message(2)
    paused = selector("DeliveringPaused(uint256)") + encode(["uint256"], [N3_CHAIN]).hex()
    assert (
        evm.refused(RELAYER, gateway.functions.deliver(message_struct(facts), setup.signed(facts))) == paused
    )
    evm.transact(setup.guard, gateway.functions.setPaused(N3_CHAIN, False, False))
    (executed,) = setup.deliver(facts)
    assert executed["ok"] is True


def test_administration_is_the_owners(setup: Setup) -> None:
    gateway, evm = setup.gateway, setup.evm
    not_owner = selector("NotOwner()")
    new_signer = stranger()
    for call in (
        gateway.functions.setSigner(new_signer.address),
        gateway.functions.setGuard(USER.address),
        gateway.functions.setRoute(N3_CHAIN, bytes(20), 0, 0, 0),
        gateway.functions.setLimits(1),
        gateway.functions.transferOwnership(USER.address),
        gateway.functions.withdrawFees(USER.address, 0),
    ):
        assert evm.refused(USER, call) == not_owner
        assert evm.refused(setup.guard, call) == not_owner
    fee = gateway.functions.feeOf(N3_CHAIN, 0).call()
    evm.transact(USER, gateway.functions.send(N3_CHAIN, N3_SENDER, b"", 0), value=fee)
    before = evm.w3.eth.get_balance(RELAYER.address)
    evm.transact(OWNER, gateway.functions.withdrawFees(RELAYER.address, fee))
    assert evm.w3.eth.get_balance(RELAYER.address) == before + fee
    # a rotated signer: the old key's signatures are refused
    evm.transact(OWNER, gateway.functions.setSigner(new_signer.address))
    facts = setup.message(1)
    assert evm.refused(
        RELAYER, gateway.functions.deliver(message_struct(facts), setup.signed(facts))
    ) == selector("BadSignature()")
    setup.signer = new_signer
    setup.deliver(facts)
    evm.transact(OWNER, gateway.functions.setLimits(10))
    too_big = evm.refused(USER, gateway.functions.send(N3_CHAIN, N3_SENDER, b"x" * 11, 0), value=fee)
    assert too_big.startswith(selector("PayloadTooLarge(uint256,uint256)"))
    evm.transact(OWNER, gateway.functions.transferOwnership(USER.address))
    assert evm.refused(OWNER, gateway.functions.setLimits(1)) == not_owner
    evm.transact(USER, gateway.functions.setLimits(1))


def test_receipts_give_the_sender_its_result(setup: Setup) -> None:
    gateway, evm = setup.gateway, setup.evm
    fee = gateway.functions.feeOf(N3_CHAIN, 100_000).call()
    n3_receiver = bytes(range(50, 70))
    evm.transact(USER, gateway.functions.send(N3_CHAIN, n3_receiver, b"question", 100_000), value=fee)
    user = bytes.fromhex(USER.address[2:])

    def receipt(attempt: int, ok: bool, result: bytes) -> XFacts:
        return receipt_facts(
            src_chain=N3_CHAIN,
            dest_chain=evm.chain_id,
            src_contract=N3_GATEWAY,
            nonce=1,
            sender=n3_receiver,
            receiver=user,
            attempt=attempt,
            ok=ok,
            result=result,
        )

    def call(facts: XFacts, key: LocalAccount | None = None) -> object:
        signature = sign_digest(key or setup.signer, message_digest(facts))
        return gateway.functions.deliverReceipt(receipt_struct(facts), signature)

    stale = selector("StaleReceipt(uint256,uint256)")
    failed = receipt(1, False, b"ABORT: refused")
    assert gateway.functions.receiptDigest(receipt_struct(failed)).call() == message_digest(failed)
    assert evm.refused(RELAYER, call(failed, stranger())) == selector("BadSignature()")
    altered = gateway.functions.deliverReceipt(
        receipt_struct(receipt(1, True, b"ABORT: refused")), sign_digest(setup.signer, message_digest(failed))
    )
    assert evm.refused(RELAYER, altered) == selector("BadSignature()")
    unknown = replace(failed, nonce=2)
    assert (
        evm.refused(RELAYER, call(unknown))
        == selector("UnknownMessage(uint256)") + encode(["uint256"], [2]).hex()
    )
    not_the_sender = replace(failed, receiver=bytes(20))
    assert evm.refused(RELAYER, call(not_the_sender)).startswith(selector("UnknownMessage(uint256)"))
    not_the_receiver = replace(failed, sender=bytes(20))
    assert evm.refused(RELAYER, call(not_the_receiver)).startswith(selector("UnknownMessage(uint256)"))
    other_gateway = replace(failed, src_contract=bytes(range(2, 22)))
    assert evm.refused(RELAYER, call(other_gateway)).startswith(selector("UnknownSourceContract(uint256)"))

    evm.transact(RELAYER, call(failed))
    assert gateway.functions.resultOf(1).call() == [USER.address, N3_CHAIN, FAILED, 1, b"ABORT: refused"]
    assert evm.refused(RELAYER, call(failed)).startswith(stale)  # a replay
    answered = receipt(2, True, b"answer")
    receipt_tx = evm.transact(RELAYER, call(answered))
    (stored,) = gateway.events.ReceiptStored().process_receipt(receipt_tx)
    assert (stored["args"]["nonce"], stored["args"]["ok"], stored["args"]["result"]) == (1, True, b"answer")
    assert gateway.functions.resultOf(1).call() == [USER.address, N3_CHAIN, EXECUTED, 2, b"answer"]
    assert evm.refused(RELAYER, call(failed)).startswith(stale)
    assert evm.refused(RELAYER, call(receipt(3, False, b"later"))).startswith(stale)


def test_a_receiver_without_code_or_gas_fails_retryably(setup: Setup) -> None:
    """A receiver that is not (yet) a contract, and one that runs out of its gas limit, leave the message
    Failed (retryable), never Executed."""
    nobody = setup.evm.w3.to_checksum_address(bytes(range(200, 220)))
    facts = replace(setup.message(1, b"early"), receiver=bytes.fromhex(nobody[2:]))
    (failed,) = setup.deliver(facts)
    assert failed["ok"] is False
    assert failed["result"].hex() == selector("ReceiverHasNoCode()")[2:]
    assert setup.inbound(facts)[0] == FAILED
    starving = replace(setup.message(2, b"x" * 3000), value=30_000)  # too little gas to store the payload
    (out_of_gas,) = setup.deliver(starving)
    assert out_of_gas["ok"] is False
    assert out_of_gas["result"] == b""
    assert setup.inbound(starving)[0] == FAILED
    assert setup.echo.functions.received().call() == 0
