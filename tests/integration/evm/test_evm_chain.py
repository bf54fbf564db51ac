"""The EVM adapter against a real anvil: failover, chain id check, dry run before sending, nonces per
sender, EIP-1559 fees, contract deployment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from eth_typing import HexStr
from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, TransactionReverted, WrongChain
from neo_service_layer.kernel.chain.adapters.evm_fees import FeePolicy, FeeTooHigh
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from tests.anvil_support import Anvil, dev_account, free_port


def dev_signer(index: int) -> LocalEvmSigner:
    return LocalEvmSigner(dev_account(index))


SIGNER = AsyncWeb3.to_checksum_address("0x" + "ab" * 20)


@pytest.fixture
async def chain(anvil: Anvil, evm_contracts_built: None) -> AsyncIterator[EvmChain]:
    opened = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=10)
    try:
        yield opened
    finally:
        await opened.close()


async def _service(chain: EvmChain) -> str:
    return await deploy(chain, dev_signer(0), load_artifact("RandomnessService"), SIGNER)


async def test_deploys_and_sends_type_2_transactions_with_eip1559_fees(chain: EvmChain, anvil: Anvil) -> None:
    address = await _service(chain)
    consumer = await deploy(chain, dev_signer(0), load_artifact("RandomnessConsumer"), address)
    artifact = load_artifact("RandomnessConsumer")
    data = chain.contract(consumer, artifact.abi).encode_abi("ask", args=[bytes(32)])
    receipt = await chain.send(dev_signer(2), consumer, bytes.fromhex(data[2:]))
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(anvil.url))
    try:
        tx = await w3.eth.get_transaction(HexStr(receipt.tx_hash))
        block = await w3.eth.get_block(receipt.block_number)
    finally:
        await w3.provider.disconnect()
    assert tx["type"] == 2
    assert tx["maxFeePerGas"] >= block["baseFeePerGas"] + tx["maxPriorityFeePerGas"]
    assert receipt.effective_gas_price <= tx["maxFeePerGas"]
    assert len(receipt.logs) == 1  # RandomnessRequested from the service


async def test_a_call_that_reverts_is_never_sent(chain: EvmChain) -> None:
    address = await _service(chain)
    service = chain.contract(address, load_artifact("RandomnessService").abi)
    sender = dev_signer(1)
    height, nonce = await chain.block_number(), await chain._pending_count(sender.address)
    data = service.encode_abi("fulfill", args=[1, bytes(32), bytes(65)])  # no request 1 yet
    with pytest.raises(TransactionReverted) as refused:
        await chain.send(sender, address, bytes.fromhex(data[2:]))
    # the contract's custom error UnknownRequest(1), as the dry run reported it
    selector = "0x" + keccak(text="UnknownRequest(uint256)")[:4].hex()
    assert refused.value.data == selector + (1).to_bytes(32, "big").hex()
    # nothing was mined (anvil mines a block per transaction) and the sender's nonce is unused
    assert await chain.block_number() == height
    assert await chain._pending_count(sender.address) == nonce
    # the owner-only call from someone else: refused by the dry run as well
    other = service.encode_abi("setSigner", args=[sender.address])
    with pytest.raises(TransactionReverted):
        await chain.send(sender, address, bytes.fromhex(other[2:]))
    assert await chain.block_number() == height


async def test_concurrent_sends_of_one_sender_take_consecutive_nonces(chain: EvmChain) -> None:
    address = await _service(chain)
    consumer = await deploy(chain, dev_signer(0), load_artifact("RandomnessConsumer"), address)
    encoder = chain.contract(consumer, load_artifact("RandomnessConsumer").abi)
    sender = dev_signer(2)
    start = await chain._pending_count(sender.address)
    receipts = await asyncio.gather(
        *(
            chain.send(sender, consumer, bytes.fromhex(encoder.encode_abi("ask", args=[bytes([i]) * 32])[2:]))
            for i in range(8)
        )
    )
    assert len({r.tx_hash for r in receipts}) == 8
    assert await chain._pending_count(sender.address) == start + 8
    reader = chain.contract(address, load_artifact("RandomnessService").abi)
    count = await chain.read({"to": address, "data": reader.encode_abi("requestCount", args=[])})
    assert int.from_bytes(count, "big") == 8


async def test_fails_over_to_the_next_endpoint_and_back(anvil: Anvil, evm_contracts_built: None) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    chain = EvmChain([dead, anvil.url], anvil.chain_id, timeout=2)
    try:
        assert await chain.block_number() == 0
        health = {h.url: h for h in chain.pool.health}
        assert not health[dead].healthy
        assert health[anvil.url].healthy
        assert chain.pool.current_url == anvil.url
        await _service(chain)  # a deployment (dry run, nonce, send, receipt) through the failover
    finally:
        await chain.close()
    # no endpoint answering: ChainUnavailable, naming the chain kind
    anvil.stop()
    lost = EvmChain([anvil.url], anvil.chain_id, timeout=2)
    try:
        with pytest.raises(ChainUnavailable, match="no EVM RPC endpoint answered"):
            await lost.block_number()
    finally:
        await lost.close()


async def test_an_endpoint_of_another_chain_is_never_used(anvil: Anvil) -> None:
    chain = EvmChain([anvil.url], 47763)  # Neo X mainnet's id; the node serves 31337
    try:
        with pytest.raises(WrongChain, match="serves chain 31337"):
            await chain.block_number()
    finally:
        await chain.close()


async def test_a_fee_above_the_cap_is_refused_before_signing(anvil: Anvil, evm_contracts_built: None) -> None:
    chain = EvmChain([anvil.url], anvil.chain_id, fee_policy=FeePolicy(max_fee_cap=1))
    try:
        with pytest.raises(FeeTooHigh):
            await _service(chain)
        assert await chain.block_number() == 0
    finally:
        await chain.close()
