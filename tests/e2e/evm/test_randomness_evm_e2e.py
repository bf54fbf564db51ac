"""Randomness for a Solidity consumer on a real local EVM chain (anvil), answered by the real enclave.

The consumer asks; the service reads the ``RandomnessRequested`` event, asks the enclave process (with
the worker's token) for the answer built from the chain facts only, and sends ``fulfill`` with the
host's sender key; the consumer holds the randomness. Forged answers (another key, altered randomness,
another chain id, another contract, another request, a replay) are refused by the contract itself:
through the adapter's dry run (never sent), and, sent anyway without a dry run, reverted on chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, Purpose
from neo_service_layer.enclave.wire.randomness_evm import SignedEvmRandomness, fulfil_preimage
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, TransactionReverted
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.randomness.adapters.evm_requests import (
    EvmRandomnessGateway,
    EvmRandomnessKeys,
    EvmRandomnessRequest,
    answer_requests,
)
from neo_service_layer.services.randomness.adapters.keys import evm_address
from tests.anvil_support import Anvil, dev_account
from tests.e2e.evm.conftest import TOKENS
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, RecordStore

pytestmark = [pytest.mark.slow]

OWNER, SENDER, USER = (LocalEvmSigner(dev_account(i)) for i in range(3))


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


BAD_SIGNATURE = _selector("BadSignature()")


@dataclass
class Setup:
    chain: EvmChain
    client: EnclaveClient
    keys: EvmRandomnessKeys
    signer: str
    gateway: EvmRandomnessGateway
    consumer: str
    records: RecordStore

    def consumer_call(self, name: str, *args: Any) -> bytes:
        encoded = self.chain.contract(self.consumer, load_artifact("RandomnessConsumer").abi).encode_abi(
            name, args=list(args)
        )
        return bytes.fromhex(encoded[2:])

    def service_call(self, name: str, *args: Any) -> bytes:
        encoded = self.chain.contract(
            self.gateway.address, load_artifact("RandomnessService").abi
        ).encode_abi(name, args=list(args))
        return bytes.fromhex(encoded[2:])

    async def read(self, to: str, data: bytes) -> bytes:
        return await self.chain.read({"to": to, "data": data})

    async def ask(self, seed: bytes) -> EvmRandomnessRequest:
        receipt = await self.chain.send(USER, self.consumer, self.consumer_call("ask", seed))
        (request,) = await self.gateway.requests(receipt.block_number, receipt.block_number)
        return request

    async def answer(self, request: EvmRandomnessRequest, **facts: Any) -> SignedEvmRandomness:
        (signed,) = await self.client.randomness_evm_fulfil(
            bls_key_id=self.keys.bls_key_id,
            evm_key_id=self.keys.evm_key_id,
            items=[replace(self.gateway.facts(request.request_id, request.consumer, request.seed), **facts)],
            tenant=PLATFORM_KEY_OWNER,
        )
        return signed


@pytest.fixture
async def setup(anvil: Anvil, enclave: PeerEnclave, evm_contracts_built: None) -> AsyncIterator[Setup]:
    records = RecordStore()
    client = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=10)
    bls = await client.create_key(KeyKind.BLS12_381, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS]))
    evm = await client.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    )
    records.put(bls)
    records.put(evm)
    signer = evm_address(evm.info.public_key)
    chain = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    service = await deploy(chain, OWNER, load_artifact("RandomnessService"), signer)
    consumer = await deploy(chain, OWNER, load_artifact("RandomnessConsumer"), service)
    keys = EvmRandomnessKeys(bls.info.key_id, evm.info.key_id)
    try:
        yield Setup(chain, client, keys, signer, EvmRandomnessGateway(chain, service), consumer, records)
    finally:
        await chain.close()
        await client.close()


async def _send_unchecked(chain: EvmChain, sender: LocalEvmSigner, to: str, data: bytes, gas: int) -> int:
    """Sign and send without a dry run (what a careless or hostile sender could do); the receipt status."""
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(chain.pool.current_url))
    try:
        fees = await chain.fees()
        nonce = await w3.eth.get_transaction_count(sender.account.address, "pending")
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
        signed = sender.account.sign_transaction(transaction)
        tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20)
        return int(receipt["status"])
    finally:
        await w3.provider.disconnect()


async def test_a_consumer_gets_randomness_the_contract_verified(setup: Setup) -> None:
    request = await setup.ask(hashlib.sha256(b"my seed").digest())
    assert request.request_id == 1
    assert request.consumer == setup.consumer
    (receipt,) = await answer_requests(setup.gateway, setup.client, setup.keys, SENDER, [request])
    (fulfilment,) = setup.gateway.fulfilments(receipt)
    assert fulfilment.callback_ok
    assert fulfilment.reason == b""
    # the consumer holds the randomness, and it is the enclave's answer for these facts
    held = await setup.read(setup.consumer, setup.consumer_call("randomnessOf", 1))
    assert held == fulfilment.randomness
    again = await setup.answer(request)  # unique: asking again gives the same randomness
    assert again.randomness == held
    assert hashlib.sha256(again.proof).digest() == held
    # the contract's digest is exactly the keccak-256 of the enclave's preimage
    digest = await setup.read(setup.gateway.address, setup.service_call("digest", 1, held))
    assert digest == keccak(
        fulfil_preimage(setup.gateway.facts(request.request_id, request.consumer, request.seed), held)
    )
    # the sender paid the gas; the signer never held any ether (it signs only, inside the enclave)
    assert await setup.chain.balance(setup.signer) == 0


async def test_forged_answers_are_refused_by_the_contract(setup: Setup) -> None:
    first, second = await setup.ask(bytes(32)), await setup.ask(b"\x01" * 32)
    honest = await setup.answer(second)
    digest = keccak(
        fulfil_preimage(
            setup.gateway.facts(second.request_id, second.consumer, second.seed), honest.randomness
        )
    )
    stranger = Account.create()
    wrong_key = SignedEvmRandomness(
        honest.randomness, honest.proof, bytes(stranger.unsafe_sign_hash(digest).signature)
    )
    altered = SignedEvmRandomness(bytes(32), honest.proof, honest.signature)
    other_chain = await setup.answer(second, chain_id=47763)
    other_contract = await setup.answer(second, contract=bytes(range(20)))
    for_first = await setup.answer(first)  # a valid answer, to another request
    for forged in (wrong_key, altered, other_chain, other_contract, for_first):
        with pytest.raises(TransactionReverted) as refused:
            await setup.gateway.fulfill(SENDER, second.request_id, forged)
        assert refused.value.data == BAD_SIGNATURE
    # sent anyway, without the dry run: the contract reverts on chain
    status = await _send_unchecked(
        setup.chain, SENDER, setup.gateway.address, setup.gateway.fulfill_data(2, wrong_key), 500_000
    )
    assert status == 0
    assert await setup.read(setup.consumer, setup.consumer_call("answered", 2)) == (0).to_bytes(32, "big")
    # the honest answer is accepted once; the replay is refused
    await setup.gateway.fulfill(SENDER, second.request_id, honest)
    with pytest.raises(TransactionReverted) as replay:
        await setup.gateway.fulfill(SENDER, second.request_id, honest)
    assert replay.value.data == _selector("AlreadyFulfilled(uint256)") + (2).to_bytes(32, "big").hex()
    status = await _send_unchecked(
        setup.chain, SENDER, setup.gateway.address, setup.gateway.fulfill_data(2, honest), 500_000
    )
    assert status == 0


async def test_a_sender_cannot_starve_the_callback(setup: Setup) -> None:
    """Too little gas for the consumer's callback gas limit reverts the whole fulfilment, so a sender
    cannot make a request count as answered while its consumer never got the randomness."""
    request = await setup.ask(bytes(32))
    answer = await setup.answer(request)
    data = setup.gateway.fulfill_data(request.request_id, answer)
    with pytest.raises(TransactionReverted) as starved:  # the guard, not an out-of-gas elsewhere
        await setup.chain.read(
            {"from": SENDER.address, "to": setup.gateway.address, "data": data, "gas": 150_000}
        )
    assert starved.value.data is not None
    assert starved.value.data.startswith(_selector("NotEnoughGasForCallback(uint256)"))
    assert await _send_unchecked(setup.chain, SENDER, setup.gateway.address, data, 150_000) == 0
    state = await setup.read(setup.gateway.address, setup.service_call("requestOf", request.request_id))
    assert decode(["address", "bytes32", "bool"], state)[2] is False
    await setup.gateway.fulfill(SENDER, request.request_id, answer)
    held = await setup.read(setup.consumer, setup.consumer_call("randomnessOf", request.request_id))
    assert held == answer.randomness


async def test_a_reverting_consumer_does_not_block_the_fulfilment(setup: Setup) -> None:
    refusing = await deploy(
        setup.chain, OWNER, load_artifact("RefusingRandomnessConsumer"), setup.gateway.address
    )
    encoder = setup.chain.contract(refusing, load_artifact("RefusingRandomnessConsumer").abi)
    receipt = await setup.chain.send(
        USER, refusing, bytes.fromhex(encoder.encode_abi("ask", args=[bytes(32)])[2:])
    )
    (request,) = await setup.gateway.requests(receipt.block_number, receipt.block_number)
    (sent,) = await answer_requests(setup.gateway, setup.client, setup.keys, SENDER, [request])
    (fulfilment,) = setup.gateway.fulfilments(sent)
    assert not fulfilment.callback_ok
    # the reason is the consumer's revert data: Error(string)
    assert fulfilment.reason[:4].hex() == _selector("Error(string)")[2:]
    assert decode(["string"], fulfilment.reason[4:]) == ("consumer refuses the randomness",)
    state = await setup.read(setup.gateway.address, setup.service_call("requestOf", request.request_id))
    assert decode(["address", "bytes32", "bool"], state)[2] is True


async def test_the_owner_rotates_the_signer(setup: Setup) -> None:
    rotated = await setup.client.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    )
    setup.records.put(rotated)
    new_signer = evm_address(rotated.info.public_key)
    with pytest.raises(TransactionReverted) as refused:  # only the owner may
        await setup.chain.send(SENDER, setup.gateway.address, setup.service_call("setSigner", new_signer))
    assert refused.value.data == _selector("NotOwner()")
    await setup.chain.send(OWNER, setup.gateway.address, setup.service_call("setSigner", new_signer))
    request = await setup.ask(bytes(32))
    with pytest.raises(TransactionReverted) as old_key:
        await setup.gateway.fulfill(SENDER, request.request_id, await setup.answer(request))
    assert old_key.value.data == BAD_SIGNATURE
    setup.keys = EvmRandomnessKeys(setup.keys.bls_key_id, rotated.info.key_id)
    await setup.gateway.fulfill(SENDER, request.request_id, await setup.answer(request))
    assert await setup.read(setup.consumer, setup.consumer_call("answered", request.request_id)) == (
        1
    ).to_bytes(32, "big")
