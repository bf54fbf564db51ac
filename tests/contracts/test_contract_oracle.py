"""The oracle service contract on a real neo-go privnet: every method and every refusal.

Fulfilments are signed with a python ``cryptography`` secp256r1 key over
``neo_service_layer.enclave.wire.oracle.response_message`` (what the enclave's oracle key signs), V2: bound
to the privnet's magic (2^31 or more, so ``u32le(magic)`` crosses NeoVM's sign bit), the service's hash and
the request's consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.enclave.wire.oracle import (
    OracleContractState,
    OracleFacts,
    ResultCode,
    offchain_consumer,
    response_message,
)
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    REPO,
    UPDATE_DELAY,
    Chain,
    artifact,
    call,
    events,
    fault_of,
    script,
    stack,
    top_up,
)
from tests.script_module import load_script

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS
SOURCES = (
    REPO / "src" / "neo_service_layer" / "services" / "oracle" / "contracts" / "oracle_service.py",
    REPO / "contracts" / "examples" / "price_consumer.py",
    REPO / "contracts" / "examples" / "faulty_oracle_consumer.py",
)
URL = "https://api.example.com/ticker?pair=NEOUSD"
TIMESTAMP = 1_760_000_000_000


class OracleKey:
    """Stands in for the enclave's oracle key (secp256r1, ECDSA over SHA-256, r||s)."""

    #: what fulfilments are bound to unless told otherwise (set by the ``oracle`` fixture): the privnet's
    #: magic, the oracle service, and the consumer most tests request through (the faulty consumer)
    magic = 0
    service = types.UInt160(bytes(20))
    consumer = types.UInt160(bytes(20))

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def fulfil_args(
        self,
        request_id: int,
        url: str,
        filter_: str,
        code: int,
        result: bytes,
        timestamp: int = TIMESTAMP,
        *,
        consumer: types.UInt160 | None = None,
        magic: int | None = None,
        service: types.UInt160 | None = None,
    ) -> list[Any]:
        facts = OracleFacts(
            self.magic if magic is None else magic,
            (self.service if service is None else service).to_array(),  # NeoVM's byte order
            request_id,
            (self.consumer if consumer is None else consumer).to_array(),
            url,
            filter_,
        )
        signature = self.sign(response_message(facts, code, timestamp, result))
        return [request_id, code, result, timestamp, signature]


@dataclass
class Oracle:
    service: types.UInt160
    price: types.UInt160
    faulty: types.UInt160
    key: OracleKey


def _build() -> None:
    build = load_script(REPO / "contracts" / "build.py", "nsl_contract_build")
    build.BUILD_DIR.mkdir(exist_ok=True)
    for source in SOURCES:
        build.build(source)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def oracle(chain: Chain) -> Oracle:
    _build()
    key = OracleKey()
    nef, manifest = artifact("oracle_service")
    admin = [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, REFUND_BLOCKS]
    service = await deploy.deploy_contract(chain.committee, nef, manifest, [*admin, key.public_key])
    consumers = []
    for name in ("price_consumer", "faulty_oracle_consumer"):
        nef, manifest = artifact(name)
        consumers.append(await deploy.deploy_contract(chain.committee, nef, manifest, service))
    for consumer in consumers:
        await top_up(chain, service, consumer, 50 * GAS)
    OracleKey.magic, OracleKey.service, OracleKey.consumer = chain.net.magic, service, consumers[1]
    return Oracle(service, consumers[0], consumers[1], key)


async def request_via_faulty(
    chain: Chain, o: Oracle, url: str = URL, filter_: str = "$.price", user_data: bytes = b""
) -> int:
    receipt = await chain.stranger.invoke(call(o.faulty, "requestData", [url, filter_, user_data]))
    (event,) = events(receipt, "OracleRequested")
    return int(event[0].as_int())


async def fault(chain: Chain, contract: types.UInt160, method: str, args: list[Any]) -> str:
    return fault_of(await chain.stranger.test(call(contract, method, args)))


# ---------------------------------------------------------------------------------------------------------


async def test_initial_configuration(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    # price = base fee + callback GAS cap + byte price x maximum result size (the defaults)
    assert [i.as_int() for i in (await chain.read(o.service, "resultPricing")).as_list()] == [100_000, 1024]
    assert (await chain.read(o.service, "fee")).as_int() == 10_000_000 + 50_000_000 + 100_000 * 1024
    assert (await chain.read(o.service, "operator")).as_uint160() == chain.operator.script_hash
    assert (await chain.read(o.service, "publicKey")).as_bytes() == o.key.public_key
    assert (await chain.read(o.service, "owner")).as_uint160() == chain.owner.script_hash
    assert [i.as_int() for i in (await chain.read(o.service, "keyInfo")).as_list()] == [1, 0, 0]
    assert (await chain.read(o.service, "isPaused")).as_bool() is False
    assert (await chain.read(o.service, "balanceOf", o.price)).as_int() == 50 * GAS
    assert (await chain.read(o.service, "getRequest", 10**9)).as_list()[
        0
    ].as_int() == OracleContractState.NONE


async def test_price_consumer_end_to_end_with_measured_gas(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    fee = (await chain.read(o.service, "fee")).as_int()
    balance = (await chain.read(o.service, "balanceOf", o.price)).as_int()
    receipt = await chain.stranger.invoke(call(o.price, "requestPrice", [URL, "$.price"]))
    request_gas = receipt.gas_consumed
    (event,) = events(receipt, "OracleRequested")
    request_id = event[0].as_int()
    assert (event[1].as_uint160(), event[2].as_str(), event[3].as_str()) == (o.price, URL, "$.price")
    assert stack(receipt)[0].as_int() == request_id
    assert (await chain.read(o.service, "balanceOf", o.price)).as_int() == balance - fee
    state, consumer, url, filter_, user_data = (
        await chain.read(o.service, "getRequest", request_id)
    ).as_list()
    assert (state.as_int(), consumer.as_uint160(), url.as_str(), filter_.as_str(), user_data.as_bytes()) == (
        OracleContractState.PENDING,
        o.price,
        URL,
        "$.price",
        b"price",
    )
    assert [i.as_int() for i in (await chain.read(o.service, "getResponse", request_id)).as_list()[::2]] == [
        -1,
        0,
    ]

    fulfil = o.key.fulfil_args(request_id, URL, "$.price", ResultCode.SUCCESS, b'"12.345"', consumer=o.price)
    receipt = await chain.stranger.invoke(
        script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id]))
    )
    both_gas = receipt.gas_consumed
    assert stack(receipt)[-1].as_bool() is True
    assert [(e[0].as_int(), e[1].as_int()) for e in events(receipt, "OracleFulfilled")] == [(request_id, 0)]
    assert [e[0].as_int() for e in events(receipt, "OracleDelivered")] == [request_id]
    (updated,) = events(receipt, "PriceUpdated")
    assert updated[1].as_str() == '"12.345"'
    assert (await chain.read(o.price, "latestPrice")).as_str() == '"12.345"'
    code, result, timestamp, version = (await chain.read(o.service, "getResponse", request_id)).as_list()
    assert (code.as_int(), result.as_bytes(), timestamp.as_int(), version.as_int()) == (
        0,
        b'"12.345"',
        TIMESTAMP,
        1,
    )
    assert (await chain.read(o.service, "getRequest", request_id)).as_list()[
        0
    ].as_int() == OracleContractState.DELIVERED

    # fulfil alone, then deliver alone: the measured split
    receipt = await chain.stranger.invoke(call(o.price, "requestPrice", [URL, "$.price"]))
    second = events(receipt, "OracleRequested")[0][0].as_int()
    fulfil = o.key.fulfil_args(second, URL, "$.price", ResultCode.SUCCESS, b'"12.346"', consumer=o.price)
    fulfil_gas = (await chain.stranger.invoke(call(o.service, "fulfill", fulfil))).gas_consumed
    deliver_gas = (await chain.stranger.invoke(call(o.service, "deliver", [second]))).gas_consumed
    print(
        f"\nGAS: request {request_gas / GAS:.4f}, fulfill+deliver {both_gas / GAS:.4f}, "
        f"fulfill {fulfil_gas / GAS:.4f}, deliver {deliver_gas / GAS:.4f}"
    )
    assert request_gas < 1 * GAS
    assert both_gas < 1 * GAS


async def test_failure_codes_are_delivered(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    receipt = await chain.stranger.invoke(call(o.price, "requestPrice", ["https://10.0.0.1/", ""]))
    request_id = events(receipt, "OracleRequested")[0][0].as_int()
    fulfil = o.key.fulfil_args(
        request_id, "https://10.0.0.1/", "", ResultCode.FORBIDDEN, b"", consumer=o.price
    )
    receipt = await chain.stranger.invoke(
        script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id]))
    )
    (failed,) = events(receipt, "PriceFailed")
    assert failed[1].as_int() == ResultCode.FORBIDDEN
    assert (await chain.read(o.price, "lastCode")).as_int() == ResultCode.FORBIDDEN


async def test_max_sizes_and_user_data_reach_the_callback(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))
    url, filter_, user_data = (
        "https://a.example/" + "u" * (512 - 18),
        "$['" + "f" * 251 + "']",
        bytes(range(256)) * 2,
    )
    assert (len(url.encode()), len(filter_.encode()), len(user_data)) == (512, 256, 512)
    # a 4 KiB result: the owner allows it for later requests, and the callback storing it needs more GAS
    await chain.owner.invoke(call(o.service, "setResultPricing", [100_000, 4096]))
    await chain.owner.invoke(call(o.service, "setCallbackGasCap", [10 * GAS]))
    try:
        request_id = await request_via_faulty(chain, o, url, filter_, user_data)
    finally:
        await chain.owner.invoke(call(o.service, "setResultPricing", [100_000, 1024]))
        await chain.owner.invoke(call(o.service, "setCallbackGasCap", [50_000_000]))
    result = b"r" * 4096
    fulfil = o.key.fulfil_args(request_id, url, filter_, ResultCode.SUCCESS, result)
    await chain.stranger.invoke(script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id])))
    assert (await chain.read(o.faulty, "lastResult")).as_bytes() == result
    assert (await chain.read(o.faulty, "lastUserData")).as_bytes() == user_data
    assert (await chain.read(o.faulty, "lastCode")).as_int() == 0


async def test_request_refusals(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    for url, filter_, user_data, reason in (
        ("", "", b"", "url is required"),
        ("https://a.example/" + "u" * 495, "", b"", "url must be at most 512 bytes"),
        (URL, "f" * 257, b"", "filter must be at most 256 bytes"),
        (URL, "", b"x" * 513, "userData must be at most 512 bytes"),
    ):
        assert reason in await fault(chain, o.faulty, "requestData", [url, filter_, user_data])
    assert "consumer must be a contract with callback" in await fault(
        chain, o.faulty, "requestWithCallback", [URL, "noSuchMethod"]
    )
    assert "callback must be a public method" in await fault(
        chain, o.faulty, "requestWithCallback", [URL, "_deploy"]
    )
    assert "consumer must be a contract with callback" in await fault(
        chain, o.service, "request", [URL, "", "onOracleResponse", b""]
    )


async def test_request_with_short_balance_is_refused(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    nef, manifest = artifact("faulty_oracle_consumer")
    poor = await deploy.deploy_contract(chain.stranger, nef, manifest, o.service)
    assert "insufficient prepaid balance" in await fault(chain, poor, "requestData", [URL, "", b""])
    await top_up(chain, o.service, poor, (await chain.read(o.service, "fee")).as_int() - 1)
    assert "insufficient prepaid balance" in await fault(chain, poor, "requestData", [URL, "", b""])
    await top_up(chain, o.service, poor, 1)
    assert (await chain.stranger.test(call(poor, "requestData", [URL, "", b""]))).result.state == "HALT"


async def test_fulfil_refusals(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))
    request_id = await request_via_faulty(chain, o)
    good = o.key.fulfil_args(request_id, URL, "$.price", 0, b"1")

    async def refusal(args: list[Any]) -> str:
        return await fault(chain, o.service, "fulfill", args)

    tampered = [*good[:4], bytes([good[4][0] ^ 1]) + good[4][1:]]
    assert "invalid signature" in await refusal(tampered)
    assert "invalid signature" in await refusal(OracleKey().fulfil_args(request_id, URL, "$.price", 0, b"1"))
    assert "invalid signature" in await refusal([request_id, 0, b"2", TIMESTAMP, good[4]])  # other result
    assert "invalid signature" in await refusal([request_id, 0, b"1", TIMESTAMP + 1, good[4]])  # other time
    assert "invalid signature" in await refusal(o.key.fulfil_args(request_id, URL, "$.other", 0, b"1"))
    assert "invalid signature" in await refusal(
        o.key.fulfil_args(request_id, "https://x.example/", "$.price", 0, b"1")
    )
    other_id = o.key.fulfil_args(request_id + 1, URL, "$.price", 0, b"1")
    assert "invalid signature" in await refusal([request_id, *other_id[1:]])  # bound to the request id
    assert "unknown request" in await refusal(o.key.fulfil_args(10**9, URL, "$.price", 0, b"1"))
    assert "only a successful response carries a result" in await refusal(
        o.key.fulfil_args(request_id, URL, "$.price", ResultCode.TIMEOUT, b"x")
    )
    assert "code must be between 0 and 255" in await refusal(
        o.key.fulfil_args(request_id, URL, "$.price", 256, b"")
    )
    assert "result must be at most 65536 bytes" in await refusal(
        [request_id, 0, b"x" * 65537, TIMESTAMP, good[4]]
    )
    assert "result is longer than the request's maximum" in await refusal(
        o.key.fulfil_args(request_id, URL, "$.price", 0, b"x" * 1025)
    )
    assert "signature must be 64 bytes" in await refusal([*good[:4], good[4][:63]])
    assert "request not fulfilled yet" in await fault(chain, o.service, "deliver", [request_id])

    await chain.stranger.invoke(script((o.service, "fulfill", good), (o.service, "deliver", [request_id])))
    assert "request is not pending" in await refusal(good)  # no replay
    assert "request already delivered" in await fault(chain, o.service, "deliver", [request_id])
    assert "unknown request" in await fault(chain, o.service, "deliver", [10**9])


async def test_fulfilment_bound_to_network_contract_and_consumer(chain: Chain, oracle: Oracle) -> None:
    """An answer the oracle key signed, but for another network magic, another deployment of the contract,
    another consumer, or off chain (magic 0, zero contract, a tenant's consumer), FAULTs; the one for this
    network, this contract and the request's consumer HALTs."""
    o = oracle
    assert OracleKey.magic >= 2**31  # conftest's privnet: u32le(magic) past NeoVM's sign bit
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))
    request_id = await request_via_faulty(chain, o)
    other_deployment = types.UInt160(bytes(reversed(o.service.to_array())))
    wrong = {
        "another network magic": {"magic": OracleKey.magic ^ 1},
        "another contract": {"service": other_deployment},
        "another consumer": {"consumer": o.price},
        "off chain": {
            "magic": 0,
            "service": types.UInt160(bytes(20)),
            "consumer": types.UInt160(offchain_consumer("acme")),
        },
    }
    for what, binding in wrong.items():
        args = o.key.fulfil_args(request_id, URL, "$.price", 0, b"1", **binding)  # type: ignore[arg-type]
        assert "invalid signature" in await fault(chain, o.service, "fulfill", args), what
    receipt = await chain.stranger.invoke(
        call(o.service, "fulfill", o.key.fulfil_args(request_id, URL, "$.price", 0, b"1"))
    )
    assert receipt.result.state == "HALT", receipt.result.exception


async def test_throwing_callback_keeps_response_and_reports_failure(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [1]))
    calls = (await chain.read(o.faulty, "calls")).as_int()
    request_id = await request_via_faulty(chain, o)
    fulfil = o.key.fulfil_args(request_id, URL, "$.price", 0, b"7")
    receipt = await chain.stranger.invoke(
        script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id]))
    )
    assert stack(receipt)[-1].as_bool() is False
    (failed,) = events(receipt, "CallbackFailed")
    assert (failed[0].as_int(), failed[1].as_str()) == (request_id, "callback threw an exception")
    assert (await chain.read(o.faulty, "calls")).as_int() == calls  # the callback's write was rolled back
    assert (await chain.read(o.service, "getRequest", request_id)).as_list()[
        0
    ].as_int() == OracleContractState.CALLBACK_FAILED
    assert (await chain.read(o.service, "getResponse", request_id)).as_list()[1].as_bytes() == b"7"
    assert (
        await chain.read(o.service, "getCallbackFailure", request_id)
    ).as_str() == "callback threw an exception"
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))  # fixed consumer: anyone may retry
    assert stack(await chain.stranger.invoke(call(o.service, "deliver", [request_id])))[0].as_bool() is True
    assert (await chain.read(o.faulty, "lastResult")).as_bytes() == b"7"


async def test_aborting_callback_cannot_block_fulfilment(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [2]))
    request_id = await request_via_faulty(chain, o)
    fulfil = o.key.fulfil_args(request_id, URL, "$.price", 0, b"8")
    both = await chain.stranger.test(
        script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id]))
    )
    assert "faulty consumer aborts" in fault_of(both)
    await chain.stranger.invoke(call(o.service, "fulfill", fulfil))  # the service falls back to fulfil alone
    assert (await chain.read(o.service, "getRequest", request_id)).as_list()[
        0
    ].as_int() == OracleContractState.FULFILLED
    assert (await chain.read(o.service, "getResponse", request_id)).as_list()[1].as_bytes() == b"8"
    assert "only the operator" in await fault(chain, o.service, "markCallbackFailed", [request_id, "aborts"])
    mark = call(o.service, "markCallbackFailed", [request_id, "callback aborts"])
    assert "only the operator" in fault_of(await chain.owner.test(mark))
    receipt = await chain.operator.invoke(mark)
    assert events(receipt, "CallbackFailed")[0][1].as_str() == "callback aborts"
    assert (await chain.read(o.service, "getRequest", request_id)).as_list()[
        0
    ].as_int() == OracleContractState.CALLBACK_FAILED


async def test_price_consumer_accepts_callbacks_only_from_the_service(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    assert "only the oracle service" in await fault(chain, o.price, "onOracleResponse", [0, 0, b"1", b""])


async def test_owner_functions(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    for who in (chain.stranger, chain.operator):
        for method, args in (
            ("setFee", [1]),
            ("setResultPricing", [1, 1]),
            ("setCallbackGasCap", [1]),
            ("withdrawFees", [who.script_hash, 1]),
            ("pause", []),
            ("unpause", []),
            ("rotateKey", [OracleKey().public_key, 0]),
            ("scheduleUpdate", [bytes(32), bytes(32)]),
            ("scheduleDestroy", []),
            ("destroy", []),
        ):
            assert "only the owner may do this" in fault_of(await who.test(call(o.service, method, args)))
    assert "only GAS is accepted" in await fault(
        chain, o.service, "onNEP17Payment", [chain.stranger.script_hash, 1, o.price]
    )

    await chain.owner.invoke(call(o.service, "pause"))
    assert "service is paused" in await fault(chain, o.faulty, "requestData", [URL, "", b""])
    await chain.owner.invoke(call(o.service, "unpause"))

    collected = (await chain.read(o.service, "collectedFees")).as_int()
    assert collected > 0
    before = await deploy.gas_balance(chain.facade, chain.stranger.script_hash)
    await chain.owner.invoke(call(o.service, "withdrawFees", [chain.stranger.script_hash, collected]))
    assert await deploy.gas_balance(chain.facade, chain.stranger.script_hash) == before + collected
    assert "amount exceeds collected fees" in fault_of(
        await chain.owner.test(call(o.service, "withdrawFees", [chain.stranger.script_hash, 1]))
    )
    price = (await chain.read(o.service, "fee")).as_int()
    await chain.owner.invoke(call(o.service, "setFee", [20_000_000]))
    assert (await chain.read(o.service, "fee")).as_int() == price + 10_000_000
    await chain.owner.invoke(call(o.service, "setFee", [10_000_000]))


async def test_key_rotation_with_grace(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))
    old_request = await request_via_faulty(chain, o)
    new_key = OracleKey()
    receipt = await chain.owner.invoke(call(o.service, "rotateKey", [new_key.public_key, 1000]))
    version = stack(receipt)[0].as_int()
    assert (await chain.read(o.service, "publicKey")).as_bytes() == new_key.public_key
    new_request = await request_via_faulty(chain, o)
    # the old key still answers requests made before the rotation, not later ones
    assert "invalid signature" in await fault(
        chain, o.service, "fulfill", o.key.fulfil_args(new_request, URL, "$.price", 0, b"1")
    )
    await chain.stranger.invoke(
        call(o.service, "fulfill", o.key.fulfil_args(old_request, URL, "$.price", 0, b"1"))
    )
    await chain.stranger.invoke(
        call(o.service, "fulfill", new_key.fulfil_args(new_request, URL, "$.price", 0, b"2"))
    )
    assert (await chain.read(o.service, "getResponse", old_request)).as_list()[3].as_int() == version - 1
    assert (await chain.read(o.service, "getResponse", new_request)).as_list()[3].as_int() == version
    o.key = new_key


async def test_gas_payment_without_data_credits_the_sender(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    await chain.stranger.invoke(
        call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.stranger.script_hash, o.service, GAS, None])
    )
    assert (await chain.read(o.service, "balanceOf", chain.stranger.script_hash)).as_int() == GAS
