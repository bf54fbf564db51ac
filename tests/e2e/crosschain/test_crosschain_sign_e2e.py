"""Cross-chain messages end to end on both real local chains (anvil for Neo X, neo-go for N3), signed by the
real enclave process: ``crosschain_sign`` gets only a pointer (chain, transaction, nonce) and reads the
gateway's event from its OWN nodes (``NSL_EVM_RPC_URLS``, ``NSL_NEO_RPC_URLS``), for the registered
gateways only (``NSL_XMSG_EVM_GATEWAY``, ``NSL_XMSG_N3_GATEWAY``).

- Neo X -> N3 and back: a dApp user sends on the EVM gateway, the enclave signs, the N3 gateway verifies
  (``CryptoLib.verifyWithECDsa``, secp256k1/Keccak) and the echo receiver answers; the enclave signs the
  RECEIPT read from the N3 execution and the EVM gateway stores it: the user reads the answer on Neo X.
- N3 -> Neo X and back: an N3 contract sends, the EVM gateway verifies (``ecrecover``), the EVM echo
  answers, the receipt goes back to N3 where the contract reads the answer.
- Refused: a transaction not on the source chain, one without the message, another nonce, an event of an
  unregistered contract, a FAULTed N3 transaction, an unconfirmed EVM transaction, a key of another
  purpose, and the api and cli clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import pytest_asyncio
import rlp  # type: ignore[import-untyped]
from eth_utils.crypto import keccak
from neo3.contracts import nef as neo_nef
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.contracts.utils import get_contract_hash
from neo3.core import types
from neo3.wallet import account
from web3 import Web3
from web3.contract import Contract

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, SourcePointer, XKind, n3_chain_id
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected
from tests.anvil_support import Anvil, dev_account
from tests.contracts.contract_support import Chain, artifact, call, events, script, stack
from tests.e2e.evm.conftest import TOKENS
from tests.integration.crosschain.evm_gateway import Evm, message_struct, receipt_struct
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, RecordStore, running_enclave

pytestmark = [pytest.mark.slow, pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

OWNER, RELAYER, USER = dev_account(0), dev_account(1), dev_account(2)
GAS = deploy.GAS
EVM_GAS_LIMIT, N3_GAS_LIMIT = 200_000, 50_000_000
EXECUTED = 1


def _create_address(sender: str, nonce: int) -> str:
    return Web3.to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def _n3_hash(deployer: types.UInt160, name: str) -> types.UInt160:
    nef_path, _ = artifact(name)
    checksum = neo_nef.NEF.from_file(str(nef_path)).checksum
    manifest_name = {"message_gateway": "NslMessageGateway"}[name]
    return get_contract_hash(deployer, checksum, manifest_name)


def _display(script_hash: types.UInt160) -> str:
    return "0x" + bytes(script_hash.to_array())[::-1].hex()


@dataclass
class Setup:
    chain: Chain
    evm: Evm
    anvil: Anvil
    enclave: PeerEnclave
    client: EnclaveClient
    key_id: str
    evm_gateway: Contract
    evm_echo: Contract
    n3_gateway: types.UInt160
    deployer: deploy.AccountInvoker
    records: RecordStore

    @property
    def n3_id(self) -> int:
        return n3_chain_id(self.chain.net.magic)

    def mine(self) -> None:
        self.evm.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    async def sign(
        self, kind: XKind, chain_id: int, tx_hash: str, nonce: int, peer: int = 0
    ) -> SignedXMessage:
        return await self.client.crosschain_sign(
            key_id=self.key_id, pointer=SourcePointer(kind, chain_id, tx_hash, nonce, peer)
        )

    async def n3_deploy(self, name: str, data: Any) -> types.UInt160:
        nef_path, manifest_path = artifact(name)
        return await deploy.deploy_contract(self.deployer, nef_path, manifest_path, data)


@pytest_asyncio.fixture(loop_scope="session")
async def setup(chain: Chain, anvil: Anvil, evm_contracts_built: None) -> AsyncIterator[Setup]:
    evm = Evm.on(anvil)
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 200 * GAS)
    n3_gateway_hash = _n3_hash(deployer.script_hash, "message_gateway")
    evm_gateway_address = _create_address(OWNER.address, evm.w3.eth.get_transaction_count(OWNER.address))
    extra = {
        "NSL_ENCLAVE_CLIENTS": __import__("json").dumps(TOKENS),
        "NSL_ENCLAVE_TOKEN": "",
        "NSL_EVM_RPC_URLS": anvil.url,
        "NSL_EVM_CHAIN_ID": str(anvil.chain_id),
        "NSL_EVM_CONFIRMATIONS": "2",
        "NSL_NEO_RPC_URLS": chain.net.rpc_url,
        "NSL_XMSG_EVM_GATEWAY": evm_gateway_address,
        "NSL_XMSG_N3_GATEWAY": _display(n3_gateway_hash),
    }
    with running_enclave("nsl-xmsg-", token="", extra=extra) as enclave:
        records = RecordStore()
        client = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=20)
        key = await client.create_key(
            KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.CROSSCHAIN])
        )
        records.put(key)
        public = key.info.public_key
        signer = Web3.to_checksum_address(keccak(_uncompressed(public)[1:])[-20:])
        guard = dev_account(1)
        evm_gateway = evm.deploy(OWNER, "MessageGateway", signer, guard.address)
        assert evm_gateway.address == evm_gateway_address
        evm_echo = evm.deploy(OWNER, "EchoReceiver", evm_gateway.address)
        nef_path, manifest_path = artifact("message_gateway")
        n3_gateway = await deploy.deploy_contract(
            deployer,
            nef_path,
            manifest_path,
            [chain.owner.script_hash, chain.stranger.script_hash, chain.operator.script_hash, public],
        )
        assert n3_gateway == n3_gateway_hash
        n3_id = n3_chain_id(chain.net.magic)
        evm.transact(
            OWNER, evm_gateway.functions.setRoute(n3_id, bytes(n3_gateway.to_array()), 10**12, 1, 10 * GAS)
        )
        await chain.owner.invoke(
            call(
                n3_gateway,
                "setRoute",
                [anvil.chain_id, bytes.fromhex(evm_gateway.address[2:]), 10**6, 1, 2_000_000],
            )
        )
        try:
            yield Setup(
                chain,
                evm,
                anvil,
                enclave,
                client,
                key.info.key_id,
                evm_gateway,
                evm_echo,
                n3_gateway,
                deployer,
                records,
            )
        finally:
            await client.close()


def _uncompressed(public: bytes) -> bytes:
    import coincurve

    return bytes(coincurve.PublicKey(public).format(compressed=False))


async def _n3_execute(s: Setup, signed: SignedXMessage) -> Any:
    f = signed.facts
    args = [
        f.src_chain,
        f.src_contract,
        f.nonce,
        f.sender,
        types.UInt160(f.receiver),
        f.value,
        f.payload,
        signed.signature,
    ]
    return await s.chain.stranger.invoke(
        script(
            (s.n3_gateway, "deliver", args), (s.n3_gateway, "execute", [f.src_chain, f.src_contract, f.nonce])
        ),
        append_system_fee=GAS,
    )


async def test_a_message_from_neo_x_is_answered_on_n3_and_the_answer_read_back(setup: Setup) -> None:
    s = setup
    echo = await s.n3_deploy("xmsg_echo_receiver", [s.n3_gateway, s.chain.owner.script_hash])
    fee = s.evm_gateway.functions.feeOf(s.n3_id, N3_GAS_LIMIT).call()
    sent = s.evm.transact(
        USER, s.evm_gateway.functions.send(s.n3_id, bytes(echo.to_array()), b"ping", N3_GAS_LIMIT), value=fee
    )
    tx_hash = "0x" + bytes(sent["transactionHash"]).hex()
    with pytest.raises(EnclaveRequestRejected, match="1 of 2 confirmations") as unconfirmed:
        await s.sign(XKind.MESSAGE, s.anvil.chain_id, tx_hash, 1)
    assert unconfirmed.value.code == "chain_unavailable"  # the host retries later
    s.mine()
    signed = await s.sign(XKind.MESSAGE, s.anvil.chain_id, tx_hash, 1)
    f = signed.facts
    assert (f.kind, f.src_chain, f.dest_chain, f.nonce) == (XKind.MESSAGE, s.anvil.chain_id, s.n3_id, 1)
    assert f.src_contract == bytes.fromhex(s.evm_gateway.address[2:])
    assert f.sender == bytes.fromhex(USER.address[2:])
    assert f.receiver == bytes(echo.to_array())
    assert (f.value, f.payload) == (N3_GAS_LIMIT, b"ping")
    assert len(signed.signature) == 64  # r || s for CryptoLib
    executed = await _n3_execute(s, signed)
    assert stack(executed)[-1].as_bool() is True
    (event,) = events(executed, "MessageExecuted")
    assert event[7].as_bytes() == b"echo:ping"
    # delivered exactly once: the same signature again is refused
    with pytest.raises(deploy.ScriptFault, match="already delivered"):
        await _n3_execute(s, signed)
    # the receipt, read by the enclave from the N3 execution, gives the user its answer on Neo X
    receipt = await s.sign(
        XKind.RECEIPT, s.n3_id, "0x" + str(executed.tx_hash).removeprefix("0x"), 1, s.anvil.chain_id
    )
    r = receipt.facts
    assert (r.kind, r.src_chain, r.dest_chain, r.value, r.payload) == (
        XKind.RECEIPT,
        s.n3_id,
        s.anvil.chain_id,
        1,
        b"\x01echo:ping",
    )
    assert len(receipt.signature) == 65  # r || s || v for ecrecover
    s.evm.transact(RELAYER, s.evm_gateway.functions.deliverReceipt(receipt_struct(r), receipt.signature))
    assert s.evm_gateway.functions.resultOf(1).call() == [USER.address, s.n3_id, EXECUTED, 1, b"echo:ping"]


async def test_a_message_from_n3_is_answered_on_neo_x_and_the_answer_read_back(setup: Setup) -> None:
    s = setup
    sender = await s.n3_deploy("xmsg_sender", s.n3_gateway)
    await deploy.fund(s.chain.committee, sender, 10 * GAS)
    echo = bytes.fromhex(s.evm_echo.address[2:])
    asked = await s.chain.stranger.invoke(
        call(sender, "ask", [s.anvil.chain_id, echo, b"pong", EVM_GAS_LIMIT])
    )
    nonce = stack(asked)[0].as_int()
    signed = await s.sign(XKind.MESSAGE, s.n3_id, "0x" + str(asked.tx_hash).removeprefix("0x"), nonce)
    assert signed.facts.sender == bytes(sender.to_array())
    assert len(signed.signature) == 65
    delivered = s.evm.transact(
        RELAYER, s.evm_gateway.functions.deliver(message_struct(signed.facts), signed.signature)
    )
    (executed,) = s.evm_gateway.events.MessageExecuted().process_receipt(delivered)
    assert executed["args"]["ok"] is True
    assert executed["args"]["result"] == b"echo:pong"
    assert s.evm_echo.functions.lastSender().call() == bytes(sender.to_array())
    s.mine()
    receipt = await s.sign(
        XKind.RECEIPT, s.anvil.chain_id, "0x" + bytes(delivered["transactionHash"]).hex(), nonce, s.n3_id
    )
    assert len(receipt.signature) == 64
    r = receipt.facts
    await s.chain.stranger.invoke(
        call(
            s.n3_gateway,
            "deliverReceipt",
            [
                r.src_chain,
                r.src_contract,
                r.nonce,
                r.sender,
                types.UInt160(r.receiver),
                r.value,
                True,
                r.payload[1:],
                receipt.signature,
            ],
        )
    )
    answer = (await s.chain.read(sender, "answerOf", nonce)).as_list()
    assert [answer[2].as_int(), answer[3].as_int(), answer[4].as_bytes()] == [EXECUTED, 1, b"echo:pong"]


async def test_the_enclave_signs_only_what_the_registered_gateway_emitted(setup: Setup) -> None:
    s = setup
    evm_id = s.anvil.chain_id
    with pytest.raises(PolicyDenied, match="not on the source chain"):
        await s.sign(XKind.MESSAGE, evm_id, "0x" + "ab" * 32, 1)
    # a transaction of the chain without the message (the echo's deployment), and another nonce
    fee = s.evm_gateway.functions.feeOf(s.n3_id, 0).call()
    sent = s.evm.transact(USER, s.evm_gateway.functions.send(s.n3_id, bytes(20), b"x", 0), value=fee)
    s.mine()
    tx_hash = "0x" + bytes(sent["transactionHash"]).hex()
    with pytest.raises(PolicyDenied, match="no single MessageSent of nonce 2"):
        await s.sign(XKind.MESSAGE, evm_id, tx_hash, 2)
    # an event of another (unregistered) gateway
    rogue = s.evm.deploy(OWNER, "MessageGateway", USER.address, USER.address)
    s.evm.transact(OWNER, rogue.functions.setRoute(s.n3_id, bytes(20), 0, 0, 0))
    rogue_sent = s.evm.transact(USER, rogue.functions.send(s.n3_id, bytes(20), b"x", 0))
    s.mine()
    with pytest.raises(PolicyDenied, match="no single MessageSent"):
        await s.sign(XKind.MESSAGE, evm_id, "0x" + bytes(rogue_sent["transactionHash"]).hex(), 1)
    # a reverted EVM transaction (sent without the dry run: underpaid)
    unpaid = s.evm_gateway.functions.send(s.n3_id, bytes(20), b"x", 0).build_transaction(
        {
            "from": USER.address,
            "nonce": s.evm.w3.eth.get_transaction_count(USER.address),
            "chainId": evm_id,
            "gas": 300_000,
        }
    )
    reverted = s.evm.w3.eth.wait_for_transaction_receipt(
        s.evm.w3.eth.send_raw_transaction(USER.sign_transaction(cast(dict[str, Any], unpaid)).raw_transaction)
    )
    assert reverted["status"] == 0
    s.mine()
    with pytest.raises(PolicyDenied, match="reverted"):
        await s.sign(XKind.MESSAGE, evm_id, "0x" + bytes(reverted["transactionHash"]).hex(), 2)
    # a chain with no registered gateway
    with pytest.raises(PolicyDenied, match="no gateway registered"):
        await s.sign(XKind.MESSAGE, 1, tx_hash, 1)
    # a FAULTed N3 transaction whose log still lists a MessageSent
    data = [evm_id, bytes(20), b"x", 0]
    faulted = await s.chain.stranger.invoke(
        script(
            (
                CONTRACT_HASHES.GAS_TOKEN,
                "transfer",
                [s.chain.stranger.script_hash, s.n3_gateway, 10**6, data],
            ),
            (s.n3_gateway, "execute", [evm_id, bytes(20), 999]),
        ),
        allow_fault=True,
    )
    assert str(faulted.state) == "FAULT"  # the RPC's text (typed VMState)
    assert events(faulted, "MessageSent")
    with pytest.raises(PolicyDenied, match="FAULTed"):
        await s.sign(XKind.MESSAGE, s.n3_id, "0x" + str(faulted.tx_hash).removeprefix("0x"), 1)
    # a key of another purpose
    other = await s.client.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    )
    s.records.put(other)
    with pytest.raises(PolicyDenied, match="purpose crosschain"):
        await s.client.crosschain_sign(
            key_id=other.info.key_id, pointer=SourcePointer(XKind.MESSAGE, evm_id, tx_hash, 1)
        )
    # the honest pointer is signed
    assert (await s.sign(XKind.MESSAGE, evm_id, tx_hash, 1)).facts.payload == b"x"


async def test_only_the_worker_may_ask_and_the_key_signs_nothing_raw(setup: Setup) -> None:
    pointer = SourcePointer(XKind.MESSAGE, setup.anvil.chain_id, "0x" + "ab" * 32, 1)
    for client_name in ("api", "cli"):
        other = EnclaveClient(
            setup.enclave.socket_path, TOKENS[client_name], loader=setup.records.load, timeout=10
        )
        try:
            with pytest.raises(OperationNotAllowed):
                await other.crosschain_sign(key_id=setup.key_id, pointer=pointer)
        finally:
            await other.close()
    # the cli's raw signing of platform keys does not reach a crosschain key (typed-only purpose)
    cli = EnclaveClient(setup.enclave.socket_path, TOKENS["cli"], loader=setup.records.load, timeout=10)
    try:
        for fmt in (
            SignatureFormat.EVM_RECOVERABLE,
            SignatureFormat.ECDSA_KECCAK256,
            SignatureFormat.EVM_DIGEST,
        ):
            with pytest.raises(PolicyDenied) as refused:
                await cli.sign(
                    setup.key_id, bytes(32), tenant=PLATFORM_KEY_OWNER, purpose=Purpose.CROSSCHAIN, fmt=fmt
                )
            assert type(refused.value) is PolicyDenied  # the key's refusal, not the client table's
    finally:
        await cli.close()
