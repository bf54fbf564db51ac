"""Web data for a Solidity consumer on a real local EVM chain (anvil), fetched and signed by the real enclave.

The consumer asks for a URL served by this test on 127.0.0.1 (the enclave's fetch guard allows loopback
over http here, as in the other oracle process tests); the service reads the ``OracleRequested`` event,
asks the enclave process (with the worker's token) to fetch, filter and sign the answer for the chain
facts, and sends ``fulfill`` with the host's sender key; the consumer holds the filtered value. Forged
answers (another key, an altered result, code or timestamp, another request's answer, a replay) are
refused by the contract itself: through the adapter's dry run (never sent), and, sent anyway without a
dry run, reverted on chain. A reverting consumer is recorded without blocking the fulfilment.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, Purpose
from neo_service_layer.enclave.wire.oracle import (
    MAX_FILTER_BYTES,
    MAX_RESULT_BYTES,
    MAX_URL_BYTES,
    ResultCode,
)
from neo_service_layer.enclave.wire.oracle_evm import FULFIL_TAG, SignedEvmOracleAnswer
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, TransactionReverted
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.oracle.adapters.evm_requests import (
    EvmOracleGateway,
    EvmOracleRequest,
    answer_request,
    answer_requests,
)
from neo_service_layer.services.randomness.adapters.keys import evm_address
from tests.anvil_support import Anvil, dev_account
from tests.e2e.evm.conftest import TOKENS
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, RecordStore, running_enclave
from tests.unit.enclave.loopback_http import LoopbackServer, raw_route

pytestmark = [pytest.mark.slow]

OWNER_KEY, SENDER_KEY, USER_KEY = dev_account(0), dev_account(1), dev_account(2)
OWNER, SENDER, USER = LocalEvmSigner(OWNER_KEY), LocalEvmSigner(SENDER_KEY), LocalEvmSigner(USER_KEY)
BODY = b'{"data": {"NEO": {"USD": 12.340}}}'
FILTER = "$.data.NEO.USD"


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def _keccak(data: bytes) -> bytes:
    return bytes(keccak(data))


BAD_SIGNATURE = _selector("BadSignature()")


@dataclass
class Setup:
    chain: EvmChain
    client: EnclaveClient
    key_id: str
    signer: str
    gateway: EvmOracleGateway
    consumer: str
    server: LoopbackServer

    def call(self, artifact: str, address: str, name: str, *args: Any) -> bytes:
        encoded = self.chain.contract(address, load_artifact(artifact).abi).encode_abi(name, args=list(args))
        return bytes.fromhex(encoded[2:])

    def service_call(self, name: str, *args: Any) -> bytes:
        return self.call("OracleService", self.gateway.address, name, *args)

    def consumer_call(self, name: str, *args: Any) -> bytes:
        return self.call("OracleConsumer", self.consumer, name, *args)

    async def read(self, to: str, data: bytes) -> bytes:
        return await self.chain.read({"to": to, "data": data})

    async def ask(
        self, path: str = "/ticker", filter_: str = FILTER, value: int = 0, url: str | None = None
    ) -> EvmOracleRequest:
        url = url if url is not None else self.server.url(path)
        receipt = await self.chain.send(
            USER, self.consumer, self.consumer_call("ask", url, filter_), value=value
        )
        (request,) = await self.gateway.requests(receipt.block_number, receipt.block_number)
        return request

    async def answer(self, request: EvmOracleRequest) -> SignedEvmOracleAnswer:
        return await answer_request(self.gateway, self.client, self.key_id, request)

    async def state(self, request_id: int) -> tuple[Any, ...]:
        raw = await self.read(self.gateway.address, self.service_call("requestOf", request_id))
        consumer, state, code, timestamp = decode(["address", "uint8", "uint8", "uint64"], raw)
        return AsyncWeb3.to_checksum_address(consumer), state, code, timestamp


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    """The enclave process with one token per client, its oracle guard opened for 127.0.0.1 over plain
    http (tests only: the strict guard allows public HTTPS only)."""
    extra = {
        "NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS),
        "NSL_ENCLAVE_TOKEN": "",
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_ALLOW_HTTP": "true",
    }
    with running_enclave("nsl-evmo-", token="", extra=extra) as process:
        yield process


@pytest.fixture
async def setup(anvil: Anvil, enclave: PeerEnclave, evm_contracts_built: None) -> AsyncIterator[Setup]:
    records = RecordStore()
    client = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=10)
    sealed = await client.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE_EVM])
    )
    records.put(sealed)
    signer = evm_address(sealed.info.public_key)
    chain = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    service = await deploy(chain, OWNER, load_artifact("OracleService"), signer)
    consumer = await deploy(chain, OWNER, load_artifact("OracleConsumer"), service)
    routes = {
        "/ticker": raw_route(BODY, "application/json"),
        "/other": raw_route(b'{"v": 1}', "application/json"),
    }
    try:
        async with LoopbackServer(routes) as server:
            yield Setup(
                chain, client, sealed.info.key_id, signer, EvmOracleGateway(chain, service), consumer, server
            )
    finally:
        await chain.close()
        await client.close()


async def _send_unchecked(chain: EvmChain, sender: LocalAccount, to: str, data: bytes, gas: int) -> int:
    """Sign and send without a dry run (what a careless or hostile sender could do); the receipt status."""
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(chain.pool.current_url))
    try:
        fees = await chain.fees()
        nonce = await w3.eth.get_transaction_count(sender.address, "pending")
        transaction: dict[str, Any] = {
            "type": 2,
            "chainId": chain.chain_id,
            "nonce": nonce,
            "to": to,
            "data": data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        signed = sender.sign_transaction(transaction)
        tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20)
        return int(receipt["status"])
    finally:
        await w3.provider.disconnect()


async def test_a_consumer_gets_the_web_value_the_contract_verified(setup: Setup) -> None:
    request = await setup.ask()
    assert (request.request_id, request.consumer) == (1, setup.consumer)
    assert (request.url, request.filter) == (setup.server.url("/ticker"), FILTER)
    answer = await setup.answer(request)
    receipt = await setup.gateway.fulfill(SENDER, answer)
    (fulfilment,) = setup.gateway.fulfilments(receipt)
    assert (fulfilment.request_id, fulfilment.code) == (1, 0)
    assert (fulfilment.callback_ok, fulfilment.reason) == (True, b"")
    assert fulfilment.timestamp_ms == answer.timestamp_ms
    # the enclave fetched it (one request to the loopback server); the consumer holds the filtered value
    assert len(setup.server.seen) == 1
    held = await setup.read(setup.consumer, setup.consumer_call("resultOf", 1))
    assert decode(["bytes"], held) == (b"12.340",)
    assert await setup.state(1) == (setup.consumer, 2, 0, answer.timestamp_ms)
    # the contract's digest is exactly the keccak-256 of the enclave's preimage
    digest = await setup.read(
        setup.gateway.address,
        setup.service_call("digest", 1, 0, _keccak(answer.result), answer.timestamp_ms),
    )
    assert digest == _keccak(answer.preimage(_keccak))
    # the sender paid the gas; the signer never held any ether (it signs only, inside the enclave)
    assert await setup.chain.balance(setup.signer) == 0


async def test_forged_answers_are_refused_by_the_contract(setup: Setup) -> None:
    first, second = await setup.ask("/other", ""), await setup.ask()
    honest = await setup.answer(second)
    digest = _keccak(honest.preimage(_keccak))
    stranger = Account.create()
    wrong_key = replace(honest, signature=bytes(stranger.unsafe_sign_hash(digest).signature))
    altered = replace(honest, result=b"99.999")
    refusal_instead = replace(honest, code=ResultCode.NOT_FOUND, result=b"")
    later = replace(honest, timestamp_ms=honest.timestamp_ms + 1)
    for_first = await setup.answer(first)  # a valid answer, to another request
    moved = replace(for_first, facts=honest.facts)
    for forged in (wrong_key, altered, refusal_instead, later, moved):
        with pytest.raises(TransactionReverted) as refused:
            await setup.gateway.fulfill(SENDER, forged)
        assert refused.value.data == BAD_SIGNATURE
    with pytest.raises(TransactionReverted) as mixed:  # a refusal never carries a result
        await setup.gateway.fulfill(SENDER, replace(honest, code=ResultCode.NOT_FOUND))
    assert mixed.value.data == _selector("ResultWithoutSuccess()")
    # sent anyway, without the dry run: the contract reverts on chain
    status = await _send_unchecked(
        setup.chain, SENDER_KEY, setup.gateway.address, setup.gateway.fulfill_data(altered), 600_000
    )
    assert status == 0
    assert await setup.read(setup.consumer, setup.consumer_call("answered", 2)) == (0).to_bytes(32, "big")
    # the honest answer is accepted once; the replay is refused
    await setup.gateway.fulfill(SENDER, honest)
    held = await setup.read(setup.consumer, setup.consumer_call("resultOf", 2))
    assert decode(["bytes"], held) == (b"12.340",)
    with pytest.raises(TransactionReverted) as replay:
        await setup.gateway.fulfill(SENDER, honest)
    assert replay.value.data == _selector("AlreadyFulfilled(uint256)") + (2).to_bytes(32, "big").hex()
    status = await _send_unchecked(
        setup.chain, SENDER_KEY, setup.gateway.address, setup.gateway.fulfill_data(honest), 600_000
    )
    assert status == 0


async def test_a_reverting_consumer_does_not_block_the_fulfilment(setup: Setup) -> None:
    refusing = await deploy(
        setup.chain, OWNER, load_artifact("RefusingOracleConsumer"), setup.gateway.address
    )
    url = setup.server.url("/ticker")
    receipt = await setup.chain.send(
        USER, refusing, setup.call("RefusingOracleConsumer", refusing, "ask", url, FILTER)
    )
    (request,) = await setup.gateway.requests(receipt.block_number, receipt.block_number)
    (sent,) = await answer_requests(setup.gateway, setup.client, setup.key_id, SENDER, [request])
    (fulfilment,) = setup.gateway.fulfilments(sent)
    assert (fulfilment.code, fulfilment.callback_ok) == (0, False)
    # the reason is the consumer's revert data: Error(string)
    assert fulfilment.reason[:4].hex() == _selector("Error(string)")[2:]
    assert decode(["string"], fulfilment.reason[4:]) == ("consumer refuses the answer",)
    assert (await setup.state(request.request_id))[1] == 2  # fulfilled all the same


async def test_a_request_that_cannot_be_fetched_gets_a_signed_refusal(setup: Setup) -> None:
    request = await setup.ask(url="nsl://template/not-resolved-here")
    (sent,) = await answer_requests(setup.gateway, setup.client, setup.key_id, SENDER, [request])
    (fulfilment,) = setup.gateway.fulfilments(sent)
    assert (fulfilment.code, fulfilment.callback_ok) == (ResultCode.FORBIDDEN, True)
    assert await setup.read(setup.consumer, setup.consumer_call("codeOf", 1)) == int(
        ResultCode.FORBIDDEN
    ).to_bytes(32, "big")
    assert setup.server.seen == []  # nothing was fetched


async def test_limits_fee_and_refund(setup: Setup) -> None:
    # the contract's tag and limits are the enclave's
    tag = await setup.read(setup.gateway.address, setup.service_call("TAG"))
    assert decode(["bytes"], tag) == (FULFIL_TAG,)
    for name, limit in (
        ("MAX_URL_BYTES", MAX_URL_BYTES),
        ("MAX_FILTER_BYTES", MAX_FILTER_BYTES),
        ("MAX_RESULT_BYTES", MAX_RESULT_BYTES),
    ):
        assert await setup.read(setup.gateway.address, setup.service_call(name)) == limit.to_bytes(32, "big")
    for url, filter_, error in (
        ("", "", "UrlLength()"),
        ("https://a.example/" + "x" * 495, "", "UrlLength()"),
        ("https://a.example/", "$" * 257, "FilterTooLong()"),
    ):
        with pytest.raises(TransactionReverted) as refused:
            await setup.ask(url=url, filter_=filter_)
        assert refused.value.data == _selector(error)
    with pytest.raises(TransactionReverted) as not_owner:
        await setup.chain.send(SENDER, setup.gateway.address, setup.service_call("setFee", 10**15))
    assert not_owner.value.data == _selector("NotOwner()")
    await setup.chain.send(OWNER, setup.gateway.address, setup.service_call("setFee", 10**15))
    await setup.chain.send(OWNER, setup.gateway.address, setup.service_call("setRefundBlocks", 2))
    with pytest.raises(TransactionReverted) as unpaid:
        await setup.ask()
    assert unpaid.value.data == _selector("WrongFee(uint256)") + (10**15).to_bytes(32, "big").hex()
    paid, unanswered = await setup.ask(value=10**15), await setup.ask(value=10**15)
    await setup.gateway.fulfill(SENDER, await setup.answer(paid))
    collected = await setup.read(setup.gateway.address, setup.service_call("collectedFees"))
    assert int.from_bytes(collected, "big") == 10**15
    with pytest.raises(TransactionReverted) as early:
        await setup.chain.send(
            SENDER, setup.gateway.address, setup.service_call("refund", unanswered.request_id)
        )
    assert early.value.data is not None
    assert early.value.data.startswith(_selector("TooEarly(uint256)"))
    late_answer = await setup.answer(unanswered)  # signed in time, sent after the refund
    for _ in range(2):  # blocks pass
        await setup.chain.send(
            OWNER, setup.gateway.address, setup.service_call("setCallbackGasLimit", 200_000)
        )
    before = await setup.chain.balance(setup.consumer)
    await setup.chain.send(SENDER, setup.gateway.address, setup.service_call("refund", unanswered.request_id))
    assert await setup.chain.balance(setup.consumer) == before + 10**15
    assert (await setup.state(unanswered.request_id))[1] == 3
    with pytest.raises(TransactionReverted) as refunded:
        await setup.gateway.fulfill(SENDER, late_answer)
    assert (
        refunded.value.data
        == _selector("NotPending(uint256)") + unanswered.request_id.to_bytes(32, "big").hex()
    )
    owner_before = await setup.chain.balance(USER.address)
    await setup.chain.send(OWNER, setup.gateway.address, setup.service_call("withdrawFees", USER.address))
    assert await setup.chain.balance(USER.address) == owner_before + 10**15
