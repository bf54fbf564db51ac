"""The EVM sender key in the real enclave process sends a randomness fulfilment on a real anvil chain.

The cli token creates the sender key and registers the deployed RandomnessService for the chain id (as
``nsl chain node`` does, ``register_evm_contracts``); the worker token gets the enclave's answer and has
the enclave sign the ``fulfill`` transaction (``EnclaveEvmSigner`` under ``EvmChain.send``: dry run,
fees, nonce, broadcast, receipt). anvil accepts it and the consumer holds the randomness. A call the
enclave does not allow (a contract not registered) is refused before anything is sent, and its nonce is
not used up.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3

from neo_service_layer.enclave.evm_tx_rules import EvmTransactionRefused
from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, PolicyDenied, Purpose
from neo_service_layer.enclave.wire.randomness_evm import EvmRandomnessFacts
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_local import register_evm_contracts
from neo_service_layer.kernel.chain.adapters.evm_signers import (
    EnclaveEvmSigner,
    LocalEvmSigner,
    evm_address_of,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from tests.anvil_support import Anvil, dev_account
from tests.e2e.evm.conftest import TOKENS
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, RecordStore

pytestmark = [pytest.mark.slow]

OWNER, USER = LocalEvmSigner(dev_account(0)), LocalEvmSigner(dev_account(2))


@dataclass
class Setup:
    chain: EvmChain
    worker: EnclaveClient
    sender: EnclaveEvmSigner
    bls_key_id: str
    evm_key_id: str
    service: str
    consumer: str

    def call(self, contract: str, artifact: str, name: str, *args: object) -> bytes:
        encoded = self.chain.contract(contract, load_artifact(artifact).abi).encode_abi(name, args=list(args))
        return bytes.fromhex(encoded[2:])


@pytest.fixture
async def setup(anvil: Anvil, enclave: PeerEnclave, evm_contracts_built: None) -> AsyncIterator[Setup]:
    records = RecordStore()
    cli = EnclaveClient(enclave.socket_path, TOKENS["cli"], timeout=10)
    worker = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=10)
    chain = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    try:
        sender_key = await cli.create_key(
            KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.EVM_SENDER])
        )
        bls = await worker.create_key(
            KeyKind.BLS12_381, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS])
        )
        evm = await worker.create_key(
            KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
        )
        for sealed in (sender_key, bls, evm):
            records.put(sealed)
        service = await deploy(
            chain, OWNER, load_artifact("RandomnessService"), evm_address_of(evm.info.public_key)
        )
        consumer = await deploy(chain, OWNER, load_artifact("RandomnessConsumer"), service)
        await register_evm_contracts(cli, anvil.chain_id, {"randomness": service})
        sender = EnclaveEvmSigner(worker, sender_key.info.key_id, sender_key.info.public_key)
        await chain.send(OWNER, sender.address, b"", value=10**18)  # the sender pays the gas
        yield Setup(chain, worker, sender, bls.info.key_id, evm.info.key_id, service, consumer)
    finally:
        await chain.close()
        await worker.close()
        await cli.close()


async def test_the_enclave_signed_fulfilment_is_accepted_and_answers_the_request(setup: Setup) -> None:
    seed = hashlib.sha256(b"seed").digest()
    await setup.chain.send(
        USER, setup.consumer, setup.call(setup.consumer, "RandomnessConsumer", "ask", seed)
    )
    facts = EvmRandomnessFacts(
        chain_id=setup.chain.chain_id,
        contract=bytes.fromhex(setup.service[2:]),
        request_id=1,
        consumer=bytes.fromhex(setup.consumer[2:]),
        seed=seed,
    )
    (answer,) = await setup.worker.randomness_evm_fulfil(
        bls_key_id=setup.bls_key_id, evm_key_id=setup.evm_key_id, items=[facts], tenant=PLATFORM_KEY_OWNER
    )
    data = setup.call(setup.service, "RandomnessService", "fulfill", 1, answer.randomness, answer.signature)
    receipt = await setup.chain.send(setup.sender, setup.service, data)
    assert receipt.block_number > 0
    held = await setup.chain.read(
        {"to": setup.consumer, "data": setup.call(setup.consumer, "RandomnessConsumer", "randomnessOf", 1)}
    )
    assert held == answer.randomness
    # the transaction on chain is the enclave sender's
    assert to_checksum_address(receipt.logs[0]["address"]) == setup.service
    balance = await setup.chain.balance(setup.sender.address)
    assert 0 < balance < 10**18


async def test_a_call_the_enclave_does_not_allow_is_never_sent(setup: Setup) -> None:
    """The consumer's own ``ask`` passes the dry run, but the consumer is no registered contract: the
    enclave refuses to sign, nothing is broadcast, and the next allowed transaction takes the nonce."""
    ask = setup.call(setup.consumer, "RandomnessConsumer", "ask", bytes(32))
    with pytest.raises(PolicyDenied) as refused:
        await setup.chain.send(setup.sender, setup.consumer, ask)
    assert refused.value.code == EvmTransactionRefused.code
    assert "is not registered" in str(refused.value)
    # an owner call on the registered contract (it would revert in the dry run: asked directly)
    set_signer = setup.call(setup.service, "RandomnessService", "setSigner", setup.sender.address)
    service = bytes.fromhex(setup.service[2:])
    owner_call = Eip1559Transaction(setup.chain.chain_id, 0, service, set_signer, 100_000, 10**9, 1)
    with pytest.raises(PolicyDenied, match="not allowed on the randomness contract"):
        await setup.worker.evm_sign_transaction(setup.sender.key_id, owner_call)
    # nothing was sent by the sender: its next nonce is still 0
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(setup.chain.pool.current_url))
    try:
        assert await w3.eth.get_transaction_count(to_checksum_address(setup.sender.address), "pending") == 0
    finally:
        await w3.provider.disconnect()
