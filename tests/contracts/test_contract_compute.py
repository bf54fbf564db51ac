"""The compute service contract on a real neo-go privnet: the example consumer end to end, every refusal,
the largest result, refunds, callback isolation and key rotation.

Answers are signed with a python ``cryptography`` secp256r1 key (``LocalRandomnessKeys``' ECDSA half)
over ``neo_service_layer.enclave.wire.compute.answer_message``: what the enclave's compute key signs,
bound to the privnet's magic (2^31 or more), the service, the request's consumer, function id and args.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

import pytest
import pytest_asyncio
from neo3.api import noderpc
from neo3.core import types

from neo_service_layer.enclave.wire.compute import NO_FUNCTION, ComputeCode, ComputeFacts, answer_message
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    LocalRandomnessKeys,
    artifact,
    call,
    events,
    fault_of,
    script,
    stack,
    top_up,
    wait_for_height,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS
FUNCTION_ID = "acme/median-price"
ARGS = b'{"pairs":["NEOUSD","GASUSD"]}'
FUNCTION_HASH = hashlib.sha256(b"the wasm module that ran").digest()
TIMESTAMP = 1_760_000_000_000
BYTE_PRICE = 100_000
#: the contract's default callback GAS cap (2 GAS): what the requests here give their callbacks
GAS_CAP = 200_000_000
MAX_RESULT = 1024
#: the contract's args limit: ``ComputeRequested`` carries them, and a notification holds 1024 bytes
MAX_ARGS = 896
#: the contract's result limit: a fulfil script (at most 65535 bytes) must hold it and the signature
LARGEST_RESULT = 65280


class State(IntEnum):  # the contract's request states
    NONE = 0
    PENDING = 1
    FULFILLED = 2
    DELIVERED = 3
    CALLBACK_FAILED = 4
    REFUNDED = 5


@dataclass
class Compute:
    chain: Chain
    service: types.UInt160
    consumer: types.UInt160
    faulty: types.UInt160
    keys: LocalRandomnessKeys = field(default_factory=LocalRandomnessKeys)

    def facts(self, request_id: int, consumer: types.UInt160 | None = None) -> ComputeFacts:
        """What an answer to a request through ``consumer`` (default the faulty one) with FUNCTION_ID and
        ARGS is bound to (script hashes in NeoVM's byte order)."""
        chosen = (self.faulty if consumer is None else consumer).to_array()
        magic, service = self.chain.net.magic, self.service.to_array()
        return ComputeFacts(magic, service, request_id, chosen, FUNCTION_ID, ARGS)

    def answer(
        self,
        facts: ComputeFacts,
        code: int,
        result: bytes,
        function_hash: bytes = FUNCTION_HASH,
        *,
        keys: LocalRandomnessKeys | None = None,
    ) -> list[Any]:
        """``fulfill``'s arguments: the answer signed over ``answer_message`` of these facts."""
        message = answer_message(facts, code, TIMESTAMP, function_hash, result)
        signature = (keys or self.keys).ecdsa_sign(message)
        return [facts.request_id, code, result, TIMESTAMP, function_hash, signature]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def compute(chain: Chain) -> Compute:
    keys = LocalRandomnessKeys()
    nef, manifest = artifact("compute_service")
    admin = [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, REFUND_BLOCKS]
    service = await deploy.deploy_contract(chain.committee, nef, manifest, [*admin, keys.public_key])
    consumers = []
    for name in ("compute_consumer", "faulty_compute_consumer"):
        nef, manifest = artifact(name)
        consumers.append(await deploy.deploy_contract(chain.committee, nef, manifest, service))
        await top_up(chain, service, consumers[-1], 50 * GAS)
    return Compute(chain, service, consumers[0], consumers[1], keys)


async def read(c: Compute, method: str, *args: Any) -> Any:
    """A read-only call's result as python values (ints, bytes, lists of them)."""
    return _plain(await c.chain.read(c.service, method, *args))


def _plain(item: noderpc.StackItem) -> Any:
    if item.type in (noderpc.StackItemType.ARRAY, noderpc.StackItemType.STRUCT):
        return [_plain(i) for i in item.as_list()]
    if item.type == noderpc.StackItemType.INTEGER:
        return item.as_int()
    if item.type == noderpc.StackItemType.ANY:
        return None
    return item.as_bytes()


async def request_via_faulty(c: Compute, user_data: bytes = b"", mode: int = 0) -> int:
    await c.chain.stranger.invoke(call(c.faulty, "setMode", [mode]))
    receipt = await c.chain.stranger.invoke(
        call(c.faulty, "requestCompute", [FUNCTION_ID, ARGS, user_data, GAS_CAP])
    )
    (event,) = events(receipt, "ComputeRequested")
    return int(event[0].as_int())


async def fault(c: Compute, contract: types.UInt160, method: str, args: list[Any]) -> str:
    return fault_of(await c.chain.stranger.test(call(contract, method, args)))


# ---------------------------------------------------------------------------------------------------------


async def test_initial_configuration(compute: Compute) -> None:
    c = compute
    assert await read(c, "resultPricing") == [BYTE_PRICE, MAX_RESULT]
    assert await read(c, "fee") == 10_000_000 + GAS_CAP + BYTE_PRICE * MAX_RESULT
    assert await read(c, "feeFor", 50_000_000) == 10_000_000 + 50_000_000 + BYTE_PRICE * MAX_RESULT
    assert await read(c, "publicKey") == c.keys.public_key
    assert await read(c, "keyInfo") == [1, 0, 0]
    assert types.UInt160(await read(c, "owner")) == c.chain.owner.script_hash
    assert types.UInt160(await read(c, "operator")) == c.chain.operator.script_hash
    assert await read(c, "refundBlocks") == REFUND_BLOCKS
    assert await read(c, "getRequest", 10**9) == [State.NONE, None, b"", b"", b"", 0]


async def test_example_consumer_end_to_end(compute: Compute) -> None:
    c = compute
    fee, balance = await read(c, "fee"), await read(c, "balanceOf", c.consumer)
    receipt = await c.chain.stranger.invoke(
        call(c.consumer, "requestCompute", [FUNCTION_ID, ARGS, b"ud", GAS_CAP])
    )
    (event,) = events(receipt, "ComputeRequested")
    request_id = event[0].as_int()
    assert stack(receipt)[0].as_int() == request_id
    assert _plain(await c.chain.read(c.consumer, "lastResponse")) == [-1, -1, b"", b""]
    assert (event[1].as_uint160(), event[2].as_str(), event[3].as_bytes()) == (c.consumer, FUNCTION_ID, ARGS)
    assert await read(c, "balanceOf", c.consumer) == balance - fee
    assert await read(c, "escrowOf", request_id) == fee
    request = await read(c, "getRequest", request_id)
    assert request == [State.PENDING, c.consumer.to_array(), FUNCTION_ID.encode(), ARGS, b"ud", MAX_RESULT]
    assert await read(c, "getResponse", request_id) == [-1, b"", 0, 0, b""]

    fulfil = c.answer(c.facts(request_id, c.consumer), ComputeCode.SUCCESS, b"0.4217")
    receipt = await c.chain.stranger.invoke(
        script((c.service, "fulfill", fulfil), (c.service, "deliver", [request_id]))
    )
    assert stack(receipt)[-1].as_bool() is True
    fulfilled = [[_plain(i) for i in e] for e in events(receipt, "ComputeFulfilled")]
    assert fulfilled == [[request_id, 0, FUNCTION_HASH]]
    assert [e[0].as_int() for e in events(receipt, "ComputeDelivered")] == [request_id]
    last = _plain(await c.chain.read(c.consumer, "lastResponse"))
    assert last == [request_id, 0, b"0.4217", b"ud"]
    assert (await c.chain.read(c.consumer, "getResult", request_id)).as_bytes() == b"0.4217"
    assert await read(c, "getResponse", request_id) == [0, b"0.4217", TIMESTAMP, 1, FUNCTION_HASH]
    assert (await read(c, "getRequest", request_id))[0] == State.DELIVERED
    # the escrow is earned but for the unused result bytes, back on the consumer's balance
    unused = (MAX_RESULT - len(b"0.4217")) * BYTE_PRICE
    assert await read(c, "balanceOf", c.consumer) == balance - fee + unused
    assert await read(c, "escrowOf", request_id) == 0
    assert "only the compute service" in await fault(
        c, c.consumer, "onComputeResult", [request_id, 0, b"forged", b"ud"]
    )


async def test_failure_code_reaches_the_consumer_without_result(compute: Compute) -> None:
    c = compute
    receipt = await c.chain.stranger.invoke(
        call(c.consumer, "requestCompute", [FUNCTION_ID, ARGS, b"u2", GAS_CAP])
    )
    request_id = events(receipt, "ComputeRequested")[0][0].as_int()
    fulfil = c.answer(c.facts(request_id, c.consumer), ComputeCode.NOT_FOUND, b"", NO_FUNCTION)
    receipt = await c.chain.stranger.invoke(
        script((c.service, "fulfill", fulfil), (c.service, "deliver", [request_id]))
    )
    assert events(receipt, "ComputeFulfilled")[0][2].as_bytes() == NO_FUNCTION
    last = _plain(await c.chain.read(c.consumer, "lastResponse"))
    assert last == [request_id, ComputeCode.NOT_FOUND, b"", b"u2"]
    assert (await c.chain.read(c.consumer, "getResult", request_id)).as_bytes() == b""
    assert await read(c, "getResponse", request_id) == [ComputeCode.NOT_FOUND, b"", TIMESTAMP, 1, NO_FUNCTION]


async def test_the_fee_follows_the_gas_a_request_gives_its_callback(compute: Compute) -> None:
    c = compute
    balance = await read(c, "balanceOf", c.consumer)
    gas = 50_000_000
    receipt = await c.chain.stranger.invoke(call(c.consumer, "requestCompute", [FUNCTION_ID, ARGS, b"", gas]))
    request_id = stack(receipt)[0].as_int()
    price = 10_000_000 + gas + BYTE_PRICE * MAX_RESULT
    assert await read(c, "escrowOf", request_id) == price
    assert await read(c, "balanceOf", c.consumer) == balance - price


async def test_request_refusals(compute: Compute) -> None:
    c = compute
    for function_id, args, user_data, reason in (
        ("", ARGS, b"", "functionId is required"),
        ("f" * 65, ARGS, b"", "functionId must be at most 64 bytes"),
        ("é" * 33, ARGS, b"", "functionId must be at most 64 bytes"),  # 66 UTF-8 bytes
        (FUNCTION_ID, b"a" * (MAX_ARGS + 1), b"", "args must be at most 896 bytes"),
        (FUNCTION_ID, ARGS, b"u" * 513, "userData must be at most 512 bytes"),
    ):
        assert reason in await fault(c, c.faulty, "requestCompute", [function_id, args, user_data, GAS_CAP])
    for gas, reason in ((0, "at least 0.01 GAS"), (GAS_CAP + 1, "above the callback GAS cap")):
        assert reason in await fault(c, c.faulty, "requestCompute", [FUNCTION_ID, ARGS, b"", gas])
    assert "consumer must be a contract with callback" in await fault(
        c, c.faulty, "requestWithCallback", [FUNCTION_ID, "noSuchMethod"]
    )
    assert "callback must be a public method" in await fault(
        c, c.faulty, "requestWithCallback", [FUNCTION_ID, "_deploy"]
    )
    # an account, not a contract, calling the service directly
    assert "consumer must be a contract with callback" in await fault(
        c, c.service, "request", [FUNCTION_ID, ARGS, "onComputeResult", GAS_CAP, b""]
    )


async def test_fulfil_refusals(compute: Compute) -> None:
    c = compute
    request_id = await request_via_faulty(c)
    facts = c.facts(request_id)
    good = c.answer(facts, 0, b"1")

    async def refusal(args: list[Any]) -> str:
        return await fault(c, c.service, "fulfill", args)

    invalid = {
        "another key": c.answer(facts, 0, b"1", keys=LocalRandomnessKeys()),
        "altered signature": [*good[:5], bytes([good[5][0] ^ 1]) + good[5][1:]],
        "altered result": [request_id, 0, b"2", TIMESTAMP, FUNCTION_HASH, good[5]],
        "altered timestamp": [request_id, 0, b"1", TIMESTAMP + 1, FUNCTION_HASH, good[5]],
        "altered functionHash": [request_id, 0, b"1", TIMESTAMP, NO_FUNCTION, good[5]],
        "other args": c.answer(replace(facts, args=ARGS + b" "), 0, b"1"),
        "other functionId": c.answer(replace(facts, function_id="acme/other"), 0, b"1"),
        "other network magic": c.answer(replace(facts, magic=facts.magic ^ 1), 0, b"1"),
        "other contract": c.answer(replace(facts, contract=bytes(reversed(facts.contract))), 0, b"1"),
        "other consumer": c.answer(replace(facts, consumer=c.consumer.to_array()), 0, b"1"),
        "other request": [request_id, *c.answer(replace(facts, request_id=request_id + 1), 0, b"1")[1:]],
    }
    assert facts.magic >= 2**31  # conftest's privnet: u32le(magic) past NeoVM's sign bit
    for what, args in invalid.items():
        assert "invalid signature" in await refusal(args), what
    assert "unknown request" in await refusal(c.answer(replace(facts, request_id=10**9), 0, b"1"))
    assert "only a successful response carries a result" in await refusal(
        c.answer(facts, ComputeCode.TRAP, b"x")
    )
    assert "code must be between 0 and 255" in await refusal(c.answer(facts, 256, b""))
    assert "result is longer than the request's maximum" in await refusal(
        c.answer(facts, 0, b"x" * (MAX_RESULT + 1))
    )
    assert "result must be at most 65280 bytes" in await refusal(
        [request_id, 0, b"x" * (LARGEST_RESULT + 1), TIMESTAMP, FUNCTION_HASH, good[5]]
    )
    assert "functionHash must be 32 bytes" in await refusal(
        [request_id, 0, b"1", TIMESTAMP, FUNCTION_HASH[:31], good[5]]
    )
    assert "signature must be 64 bytes" in await refusal([*good[:5], good[5][:63]])
    assert "request not fulfilled yet" in await fault(c, c.service, "deliver", [request_id])

    await c.chain.stranger.invoke(call(c.service, "fulfill", good))
    assert "request is not pending" in await refusal(good)  # no second fulfilment, not even the same one
    assert "request is not pending" in await refusal(c.answer(facts, 0, b"other"))
    assert (await read(c, "getResponse", request_id))[1] == b"1"


async def test_largest_request_and_result(compute: Compute) -> None:
    """The largest request (64-byte functionId, 896-byte args, 512-byte userData: ``ComputeRequested``
    under the 1024-byte notification limit) and the largest result, 65280 bytes: a fulfil script holds
    at most 65535 bytes, too few for a 65535-byte result and the other arguments."""
    c = compute
    assert "maxResult must be between 1 and 65280" in fault_of(
        await c.chain.owner.test(call(c.service, "setResultPricing", [BYTE_PRICE, LARGEST_RESULT + 1]))
    )
    function_id, args, user_data = "f" * 64, bytes(i % 256 for i in range(MAX_ARGS)), b"u" * 512
    # at 0.001 GAS a byte the escrow would be 65 GAS: a cheaper byte for this request
    await c.chain.owner.invoke(call(c.service, "setResultPricing", [1_000, LARGEST_RESULT]))
    try:
        assert await read(c, "fee") == 10_000_000 + GAS_CAP + 1_000 * LARGEST_RESULT
        receipt = await c.chain.stranger.invoke(
            call(c.faulty, "requestCompute", [function_id, args, user_data, GAS_CAP])
        )
    finally:
        await c.chain.owner.invoke(call(c.service, "setResultPricing", [BYTE_PRICE, MAX_RESULT]))
    (event,) = events(receipt, "ComputeRequested")
    request_id = event[0].as_int()
    assert (event[2].as_str(), event[3].as_bytes()) == (function_id, args)
    assert (await read(c, "getRequest", request_id))[5] == LARGEST_RESULT
    facts = replace(c.facts(request_id), function_id=function_id, args=args)
    too_long = call(c.service, "fulfill", c.answer(facts, 0, bytes(65535)))
    assert len(too_long.script) > 65535  # could never be sent

    result = bytes(i % 251 for i in range(LARGEST_RESULT))
    fulfil = c.answer(facts, 0, result)
    assert len(script((c.service, "fulfill", fulfil), (c.service, "deliver", [request_id])).script) <= 65535
    receipt = await c.chain.stranger.invoke(call(c.service, "fulfill", fulfil))
    assert receipt.result.state == "HALT", receipt.result.exception
    assert await read(c, "getResponse", request_id) == [0, result, TIMESTAMP, 1, FUNCTION_HASH]
    assert await read(c, "escrowOf", request_id) == 0


async def test_throwing_callback_is_isolated(compute: Compute) -> None:
    c = compute
    request_id = await request_via_faulty(c, mode=1)
    calls = (await c.chain.read(c.faulty, "calls")).as_int()
    fulfil = c.answer(c.facts(request_id), 0, b"7")
    receipt = await c.chain.stranger.invoke(
        script((c.service, "fulfill", fulfil), (c.service, "deliver", [request_id]))
    )
    assert stack(receipt)[-1].as_bool() is False
    (failed,) = events(receipt, "ComputeCallbackFailed")
    assert (failed[0].as_int(), failed[1].as_str()) == (request_id, "callback threw an exception")
    assert (await c.chain.read(c.faulty, "calls")).as_int() == calls  # the callback's write rolled back
    assert (await read(c, "getRequest", request_id))[0] == State.CALLBACK_FAILED
    assert (await read(c, "getResponse", request_id))[1] == b"7"
    assert await read(c, "getCallbackFailure", request_id) == b"callback threw an exception"
    await c.chain.stranger.invoke(call(c.faulty, "setMode", [0]))  # fixed consumer: anyone may retry
    assert stack(await c.chain.stranger.invoke(call(c.service, "deliver", [request_id])))[0].as_bool()
    assert (await c.chain.read(c.faulty, "lastResult")).as_bytes() == b"7"
    assert "request already delivered" in await fault(c, c.service, "deliver", [request_id])


async def test_aborting_callback_is_marked_by_the_operator(compute: Compute) -> None:
    c = compute
    request_id = await request_via_faulty(c, mode=2)
    fulfil = c.answer(c.facts(request_id), 0, b"8")
    both = script((c.service, "fulfill", fulfil), (c.service, "deliver", [request_id]))
    assert "faulty consumer aborts" in fault_of(await c.chain.stranger.test(both))
    await c.chain.stranger.invoke(call(c.service, "fulfill", fulfil))
    mark = call(c.service, "markCallbackFailed", [request_id, "callback aborts"])
    for who in (c.chain.stranger, c.chain.owner):
        assert "only the operator" in fault_of(await who.test(mark))
    receipt = await c.chain.operator.invoke(mark)
    assert events(receipt, "ComputeCallbackFailed")[0][1].as_str() == "callback aborts"
    assert (await read(c, "getRequest", request_id))[0] == State.CALLBACK_FAILED
    assert "only a fulfilled, undelivered request" in fault_of(await c.chain.operator.test(mark))


async def test_unanswered_request_is_refunded_after_the_timeout(compute: Compute) -> None:
    c = compute
    balance = await read(c, "balanceOf", c.faulty)
    await c.chain.stranger.invoke(call(c.faulty, "setMode", [0]))
    receipt = await c.chain.stranger.invoke(
        call(c.faulty, "requestCompute", [FUNCTION_ID, ARGS, b"", GAS_CAP])
    )
    request_id = events(receipt, "ComputeRequested")[0][0].as_int()
    assert receipt.included_in_block is not None
    assert "refund later" in await fault(c, c.service, "refund", [request_id])

    await wait_for_height(c.chain, receipt.included_in_block + REFUND_BLOCKS)
    await c.chain.stranger.invoke(call(c.service, "refund", [request_id]))
    assert await read(c, "balanceOf", c.faulty) == balance
    assert (await read(c, "getRequest", request_id))[0] == State.REFUNDED
    assert await read(c, "getResponse", request_id) == [-1, b"", 0, 0, b""]
    late = c.answer(c.facts(request_id), 0, b"1")
    assert "request is not pending" in await fault(c, c.service, "fulfill", late)
    assert "only a pending request can be refunded" in await fault(c, c.service, "refund", [request_id])


async def test_owner_only_settings(compute: Compute) -> None:
    c = compute
    for method, args in (
        ("setResultPricing", [1, 1]),
        ("rotateKey", [LocalRandomnessKeys().public_key, 0]),
        ("setFee", [1]),
        ("pause", []),
    ):
        for who in (c.chain.stranger, c.chain.operator):
            assert "only the owner may do this" in fault_of(await who.test(call(c.service, method, args)))
    await c.chain.owner.invoke(call(c.service, "pause"))
    try:
        assert "service is paused" in await fault(
            c, c.faulty, "requestCompute", [FUNCTION_ID, ARGS, b"", GAS_CAP]
        )
    finally:
        await c.chain.owner.invoke(call(c.service, "unpause"))


async def test_key_rotation_with_grace(compute: Compute) -> None:
    """Runs last in this module: it replaces the service's key."""
    c = compute
    old_request = await request_via_faulty(c)
    new_keys = LocalRandomnessKeys()
    receipt = await c.chain.owner.invoke(call(c.service, "rotateKey", [new_keys.public_key, 1000]))
    version = stack(receipt)[0].as_int()
    assert [e[0].as_int() for e in events(receipt, "ComputeKeyRotated")] == [version]
    assert await read(c, "publicKey") == new_keys.public_key
    assert (await read(c, "keyInfo"))[:2] == [version, old_request + 1]
    new_request = await request_via_faulty(c)
    # the old key still answers requests made before the rotation, not later ones
    assert "invalid signature" in await fault(
        c, c.service, "fulfill", c.answer(c.facts(new_request), 0, b"1")
    )
    await c.chain.stranger.invoke(call(c.service, "fulfill", c.answer(c.facts(old_request), 0, b"1")))
    new_answer = c.answer(c.facts(new_request), 0, b"2", keys=new_keys)
    await c.chain.stranger.invoke(call(c.service, "fulfill", new_answer))
    assert (await read(c, "getResponse", old_request))[3] == version - 1
    assert (await read(c, "getResponse", new_request))[3] == version
    c.keys = new_keys
