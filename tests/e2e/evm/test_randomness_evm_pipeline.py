"""EVM randomness through the kernel's pipeline, on a real anvil with the real enclave process.

The worker's pieces as ``nsl run`` wires them: the watcher (durable cursor in the database, an
``EvmEventSource``), the fulfiller (leases, the enclave's ``randomness_evm_fulfil``, one ``fulfill``
transaction per request written to the outbox before it is broadcast) and the EVM outbox relay (resend,
replacement with the same nonce and higher fees). Each request ends answered exactly once on chain and
recorded once in the database, also when the worker dies between the outbox write and the broadcast,
and when the first transaction is priced out of the next blocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, Purpose
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.chain.adapters.evm_transactions import EvmSender
from neo_service_layer.kernel.chain.adapters.outbox_store import SqlOutboxStore
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox
from neo_service_layer.kernel.chain.ports.chain import NullObserver
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.chain.use_cases.evm_outbox import EvmOutboxAction, EvmOutboxRelay
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.randomness.adapters.evm_requests import ABI, EvmRandomnessGateway
from neo_service_layer.services.randomness.adapters.keys import evm_address
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult
from neo_service_layer.services.randomness.use_cases.evm import (
    EVM_SERVICE,
    EvmRandomnessFulfiller,
    EvmRandomnessKeys,
    decode_evm_events,
)
from tests.anvil_support import Anvil, dev_account
from tests.e2e.evm.conftest import TOKENS
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, RecordStore

pytestmark = [pytest.mark.slow]

OWNER, SENDER, USER = dev_account(0), dev_account(1), dev_account(2)
GWEI = 10**9


@dataclass
class Pipeline:
    chain: EvmChain
    engine: AsyncEngine
    store: SqlRequestStore[RandomnessParams, RandomnessResult]
    gateway: EvmRandomnessGateway
    consumer: str
    watcher: ChainWatcher[RandomnessParams]
    fulfiller: EvmRandomnessFulfiller
    sender: EvmSender
    relay: EvmOutboxRelay

    async def ask(self, seed: bytes, consumer: str | None = None) -> None:
        data = self.chain.contract(
            consumer or self.consumer, load_artifact("RandomnessConsumer").abi
        ).encode_abi("ask", args=[seed])
        await self.chain.send(LocalEvmSigner(USER), consumer or self.consumer, bytes.fromhex(data[2:]))

    async def held(self, request_id: int) -> bytes:
        call = self.chain.contract(self.consumer, load_artifact("RandomnessConsumer").abi).encode_abi(
            "randomnessOf", args=[request_id]
        )
        return await self.chain.read({"to": self.consumer, "data": bytes.fromhex(call[2:])})

    async def status(self, request_id: int) -> RequestStatus | None:
        found = await self.store.get(EVM_SERVICE, self.gateway.address, request_id)
        return found.status if found is not None else None

    async def outbox(self) -> list[tuple[str, str]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(chain_outbox.c.tx_hash, chain_outbox.c.status).where(
                    chain_outbox.c.service == EVM_SERVICE
                )
            )
            return [(r.tx_hash, r.status) for r in rows]

    async def rounds(self, done: Callable[[], Any], limit: int = 60) -> None:
        """Watch, fulfil and relay until ``done()`` is true (a bounded number of rounds, no clock)."""
        for _ in range(limit):
            await self.watcher.poll()
            while await self.fulfiller.run_once():
                pass
            await self.relay.run_once()
            if await done():
                return
        raise AssertionError("the pipeline did not finish")


async def _rpc(anvil: Anvil, method: str, *params: Any) -> Any:
    """One JSON-RPC call to anvil (its own methods too: ``evm_mine``, ``anvil_*``)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with aiohttp.ClientSession() as session, session.post(anvil.url, json=body) as response:
        answer = await response.json()
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
async def pipeline(
    settings: Settings, anvil: Anvil, enclave: PeerEnclave, evm_contracts_built: None
) -> AsyncIterator[Pipeline]:
    engine = create_engine(settings)
    await upgrade_to_head(engine)
    records = RecordStore()
    client = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=10)
    bls = await client.create_key(KeyKind.BLS12_381, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS]))
    key = await client.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    )
    records.put(bls)
    records.put(key)
    chain = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    owner = LocalEvmSigner(OWNER)
    service = await deploy(chain, owner, load_artifact("RandomnessService"), evm_address(key.info.public_key))
    consumer = await deploy(chain, owner, load_artifact("RandomnessConsumer"), service)
    start = await chain.block_number()
    store = SqlRequestStore(engine, RandomnessPayloads())
    clock = SystemClock()
    gateway = EvmRandomnessGateway(chain, service)
    source = EvmEventSource(chain, {service: ABI})
    watcher = ChainWatcher(
        source, store, clock, NullObserver(), service=EVM_SERVICE, contract=service,
        decode=decode_evm_events, start_block=start,
    )  # fmt: skip
    sender = EvmSender(chain, LocalEvmSigner(SENDER))
    fulfiller = EvmRandomnessFulfiller(
        store, client, gateway, sender, clock, keys=EvmRandomnessKeys(bls.info.key_id, key.info.key_id),
        worker_id="w1", lease_seconds=30,
    )  # fmt: skip
    relay = EvmOutboxRelay(
        sender, SqlOutboxStore(engine), clock, NullObserver(), service=EVM_SERVICE,
        resend_after=timedelta(0), replace_after=2,
    )  # fmt: skip
    try:
        yield Pipeline(chain, engine, store, gateway, consumer, watcher, fulfiller, sender, relay)
    finally:
        await chain.close()
        await client.close()
        await engine.dispose()


async def _fulfilled_events(p: Pipeline) -> list[int]:
    """The request ids of every ``RandomnessFulfilled`` log of the contract (what the chain holds)."""
    event = p.chain.contract(p.gateway.address, ABI).events.RandomnessFulfilled()
    logs = await p.chain.get_logs({"address": p.gateway.address, "topics": [event.topic], "fromBlock": 0})
    return [int(event.process_log(log)["args"]["requestId"]) for log in logs]


async def test_requests_are_answered_once_through_the_pipeline(pipeline: Pipeline) -> None:
    p = pipeline
    for i in range(3):
        await p.ask(hashlib.sha256(bytes([i])).digest())

    async def delivered() -> bool:
        return all([await p.status(i) is RequestStatus.DELIVERED for i in (1, 2, 3)])

    await p.rounds(delivered)
    assert sorted(await _fulfilled_events(p)) == [1, 2, 3]
    for i in (1, 2, 3):
        stored = await p.store.get(EVM_SERVICE, p.gateway.address, i)
        assert stored is not None
        assert stored.answer is not None
        assert await p.held(i) == stored.answer.output  # the consumer holds what the database recorded
        assert hashlib.sha256(stored.answer.proof).digest() == stored.answer.output
    assert sorted(s for _, s in await p.outbox()) == ["included"] * 3
    # more rounds change nothing: nothing is claimed or sent again
    await p.rounds(delivered, limit=3)
    assert sorted(await _fulfilled_events(p)) == [1, 2, 3]


async def test_a_worker_dying_between_outbox_and_broadcast_loses_nothing(
    pipeline: Pipeline, anvil: Anvil
) -> None:
    p = pipeline
    await p.ask(bytes(32))
    await p.watcher.poll()

    class Died(Exception):
        pass

    original = p.sender.broadcast

    async def die(raw: bytes) -> Any:  # the process ends after the outbox commit, before sending
        raise Died

    p.sender.broadcast = die  # type: ignore[method-assign]
    with pytest.raises(Died):
        await p.fulfiller.run_once()
    p.sender.broadcast = original  # type: ignore[method-assign]
    [(tx_hash, status)] = await p.outbox()
    assert status == "pending"
    assert await p.status(1) is RequestStatus.FULFILLING
    assert await _rpc(anvil, "eth_getTransactionByHash", tx_hash) is None  # never sent

    async def delivered() -> bool:
        return await p.status(1) is RequestStatus.DELIVERED

    await p.rounds(delivered)  # the relay sends the recorded bytes; the lease holds the request
    assert await _fulfilled_events(p) == [1]
    assert await p.outbox() == [(tx_hash, "included")]


async def test_a_transaction_priced_out_is_replaced_with_the_same_nonce(
    pipeline: Pipeline, anvil: Anvil
) -> None:
    p = pipeline
    await p.ask(bytes(32))
    await p.watcher.poll()
    await _rpc(anvil, "evm_setAutomine", False)
    await p.fulfiller.run_once()
    [(first, _)] = await p.outbox()
    sent = await _rpc(anvil, "eth_getTransactionByHash", first)
    # the network's base fee jumps above what the first transaction offers: it cannot be mined now
    await _rpc(anvil, "anvil_setNextBlockBaseFeePerGas", hex(int(sent["maxFeePerGas"], 16) * 3))
    await _rpc(anvil, "evm_mine")
    assert await p.status(1) is RequestStatus.FULFILLING
    actions: dict[EvmOutboxAction, int] = {}
    for _ in range(4):  # sent again twice, then replaced
        for action, n in (await p.relay.run_once()).items():
            actions[action] = actions.get(action, 0) + n
    assert actions.get(EvmOutboxAction.REPLACE) == 1
    outbox = dict(await p.outbox())
    assert outbox[first] == "replaced"
    [second] = [h for h, s in outbox.items() if s == "pending"]
    replacement = await _rpc(anvil, "eth_getTransactionByHash", second)
    assert replacement["nonce"] == sent["nonce"]
    assert int(replacement["maxFeePerGas"], 16) > int(sent["maxFeePerGas"], 16)
    await _rpc(anvil, "evm_mine")
    await _rpc(anvil, "evm_setAutomine", True)

    async def delivered() -> bool:
        return await p.status(1) is RequestStatus.DELIVERED

    await p.rounds(delivered)
    assert await _fulfilled_events(p) == [1]
    stored = await p.store.get(EVM_SERVICE, p.gateway.address, 1)
    assert stored is not None
    assert stored.fulfilled_tx == second
    assert dict(await p.outbox()) == {first: "replaced", second: "included"}


async def test_a_reverting_consumer_is_recorded_and_blocks_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    refusing = await deploy(
        p.chain, LocalEvmSigner(OWNER), load_artifact("RefusingRandomnessConsumer"), p.gateway.address
    )
    data = p.chain.contract(refusing, load_artifact("RefusingRandomnessConsumer").abi).encode_abi(
        "ask", args=[bytes(32)]
    )
    await p.chain.send(LocalEvmSigner(USER), refusing, bytes.fromhex(data[2:]))
    await p.ask(b"\x01" * 32)

    async def settled() -> bool:
        return (
            await p.status(1) is RequestStatus.CALLBACK_FAILED
            and await p.status(2) is RequestStatus.DELIVERED
        )

    await p.rounds(settled)
    failed = await p.store.get(EVM_SERVICE, p.gateway.address, 1)
    assert failed is not None
    assert failed.callback_failure
    assert sorted(await _fulfilled_events(p)) == [1, 2]
