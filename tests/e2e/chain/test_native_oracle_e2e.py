"""Compatibility with Neo's native Oracle: a plain Neo contract calling ``Oracle.request`` gets its
callback from our node (neo-go privnet with 100 ms blocks, its own oracle service off, the enclave's
node key designated; the URL is https on loopback with a test CA). The enclave process reads each request
from the node itself (``NSL_NEO_LOCAL_RPC_PORT``), fetches it, and builds and signs the response."""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from neo3.core import types
from neo3.network.payloads import transaction
from neo3.network.payloads.verification import Witness

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.kernel.chain.adapters.privnet import DEV_VALIDATOR_PUBLIC_KEY
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.native_oracle.adapters.node import designate_oracles, designated_oracles
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT, NeoResponseCode
from neo_service_layer.services.native_oracle.use_cases import GONE, SERVICE, NativeOracleRequest
from tests.e2e.chain.neogo_oracle import OraclePrivnet
from tests.e2e.chain.stack import InProcessWorker, Stack, call, close_stack, open_stack, sql, wait_for
from tests.e2e.chain.tls_support import HttpsServer, LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

GAS_FOR_RESPONSE = deploy.GAS  # 1 GAS: the callback writes storage three times


@pytest.fixture
def web(certificates: LoopbackCertificates) -> Iterator[HttpsServer]:
    with https_server(certificates) as server:
        yield server


@pytest.fixture
async def nstack(contracts_built: None, certificates: LoopbackCertificates) -> AsyncIterator[Stack]:
    opened = await open_stack(oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file))
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


async def request(
    stack: Stack, consumer: types.UInt160, url: str, filter_: str, tag: int, gas: int = GAS_FOR_RESPONSE
) -> int:
    """The block of a consumer's ``Oracle.request`` transaction."""
    receipt = await stack.committee.invoke(call(consumer, "request", url, filter_, tag, gas))
    return int(receipt.included_in_block)


async def row(stack: Stack, request_id: int) -> NativeOracleRequest | None:
    return await stack.requests(NativeOraclePayloads()).get(SERVICE, ORACLE_CONTRACT, request_id)


async def wait_delivered(stack: Stack, request_id: int, timeout: float = 20) -> NativeOracleRequest:
    async def done() -> bool:
        found = await row(stack, request_id)
        return found is not None and found.status is RequestStatus.DELIVERED

    await wait_for(done, timeout, f"native oracle request {request_id} to be delivered")
    found = await row(stack, request_id)
    assert found is not None
    return found


async def oracle_events(stack: Stack, first_block: int, name: str) -> dict[int, int]:
    """How many ``name`` events of the native Oracle each request id got since ``first_block``."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    counts: dict[int, int] = {}
    try:
        head = await endpoint.client.get_block_count() - 1
        for index in range(first_block, head + 1):
            events, _ = await endpoint.block_events(index, ORACLE_CONTRACT)
            for event in events:
                if event.name == name:
                    counts[int(event.values[0])] = counts.get(int(event.values[0]), 0) + 1
    finally:
        await endpoint.close()
    return counts


async def test_a_plain_neo_contract_gets_native_oracle_callbacks_from_our_node(
    nstack: Stack, web: HttpsServer
) -> None:
    stack = nstack
    node_key = bytes.fromhex(stack.network.service_keys["native_oracle"])
    assert await designated_oracles(stack.net.rpc_url) == (node_key,)
    web.routes["/ticker"] = {"price": 42.17, "volume": 3, "pairs": [{"b": 1, "a": 2}]}
    nef, manifest = artifact("native_oracle_consumer")
    consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
    first_block = stack.network.deployed_height

    async with InProcessWorker(stack.settings):
        block = await request(stack, consumer, web.url("/ticker"), "$.price", 1)
        answered = await wait_delivered(stack, 0)
        assert (await stack.read(consumer, "lastResult")).value == b"[42.17]"
        assert (await stack.read(consumer, "lastCode")).as_int() == NeoResponseCode.SUCCESS
        assert answered.consumer == f"0x{consumer}"
        assert answered.fulfilled_block is not None
        assert answered.request_block == block
        assert answered.fulfilled_block > block  # the first one includes the worker's warm-up

        # no filter: the body itself; several matches: one JSON array in document order
        await request(stack, consumer, web.url("/ticker"), "", 2)
        second = await wait_delivered(stack, 1)
        assert second.fulfilled_block is not None
        # answered after the request; block latency is measured by bench/native_oracle.py at 1 s blocks
        assert second.fulfilled_block > second.request_block
        body = (await stack.read(consumer, "lastResult")).value
        assert body == b'{"price": 42.17, "volume": 3, "pairs": [{"b": 1, "a": 2}]}'
        await request(stack, consumer, web.url("/ticker"), "$.pairs[*]", 3)
        await wait_delivered(stack, 2)
        assert (await stack.read(consumer, "lastResult")).value == b'[{"b":1,"a":2}]'

        # failures are Neo response codes with an empty result
        await request(stack, consumer, web.url("/missing"), "$.price", 4)
        await wait_delivered(stack, 3)
        assert (await stack.read(consumer, "lastCode")).as_int() == NeoResponseCode.NOT_FOUND
        hits = dict(web.hits)
        await request(stack, consumer, f"http://127.0.0.1:{web.port}/ticker", "", 5)
        await wait_delivered(stack, 4)
        assert (await stack.read(consumer, "lastCode")).as_int() == NeoResponseCode.PROTOCOL_NOT_SUPPORTED
        assert (await stack.read(consumer, "lastResult")).value == b""
        assert web.hits == hits  # never fetched

        # a burst in one transaction: each answered exactly once
        await stack.committee.invoke(
            call(consumer, "requestMany", web.url("/ticker"), "$.volume", 100, 8, GAS_FOR_RESPONSE)
        )
        for rid in range(5, 13):
            await wait_delivered(stack, rid)
        assert (await stack.read(consumer, "answers")).as_int() == 13

    responses = await oracle_events(stack, first_block, "OracleResponse")
    assert responses == dict.fromkeys(range(13), 1)
    # the native contract removed every request: nothing is left to answer
    rows = [await row(stack, i) for i in range(13)]
    assert all(r is not None and r.status is RequestStatus.DELIVERED for r in rows)
    fees = await sql(
        stack, f"SELECT system_fee, network_fee FROM chain_outbox WHERE service = '{SERVICE}' LIMIT 1"
    )
    assert int(fees[0][0]) + int(fees[0][1]) == GAS_FOR_RESPONSE
    print(
        f"\nnative oracle e2e: request->callback {second.fulfilled_block - second.request_block} block(s); "
        f"network fee {int(fees[0][1]) / 1e8} GAS"
    )


async def test_each_response_is_priced_as_the_node_prices_it_and_signed_by_the_node_key(
    nstack: Stack, web: HttpsServer
) -> None:
    """The enclave prices a whole call with one ``calculatenetworkfee``, by size: each response's fee must
    equal the node's own estimate for it (var-int boundaries of the result included), and an answer
    whose fee exceeds ``gasForResponse`` becomes ``InsufficientFunds`` with no result, as in neo-go.

    Results above ~1 KiB make this consumer's callback FAULT (its ``Answered`` notification is too large):
    such a response is still included, the native contract removes the request, and our node marks it
    failed after one response, never sending it again."""
    stack = nstack
    delivered, faulting = (0, 1, 252, 253, 900), (4096, 65_535)
    sizes = (*delivered, *faulting)
    for size in (*sizes, 20_000):
        web.routes[f"/body{size}"] = b"7" * size
    nef, manifest = artifact("native_oracle_consumer")
    consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
    big_gas = 80 * deploy.GAS  # the callback stores the result: up to 65,535 bytes of storage
    poor = 10_000_000  # 0.1 GAS, the native contract's minimum: less than 20,000 bytes cost
    async with InProcessWorker(stack.settings):
        for tag, size in enumerate(sizes):
            await request(stack, consumer, web.url(f"/body{size}"), "", tag, big_gas)
        await request(stack, consumer, web.url("/body20000"), "", 99, poor)
        for rid in (*range(len(delivered)), len(sizes)):
            await wait_delivered(stack, rid, timeout=30)
        for rid in range(len(delivered), len(sizes)):
            failed = await wait_status(stack, rid, RequestStatus.FAILED)
            assert (failed.failure_reason, failed.attempts) == (GONE, 1)
    raws = await sql(stack, f"SELECT raw FROM chain_outbox WHERE service = '{SERVICE}'")
    responses = {}
    for (raw,) in raws:
        tx = transaction.Transaction.deserialize_from_bytes(bytes(raw))
        (attribute,) = tx.attributes
        assert isinstance(attribute, transaction.OracleResponse)
        responses[attribute.id] = tx
    assert sorted(responses) == list(range(len(sizes) + 1))  # one response each
    node_key = bytes.fromhex(stack.network.service_keys["native_oracle"])
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), node_key)
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        for rid, tx in responses.items():
            (attribute,) = tx.attributes
            assert isinstance(attribute, transaction.OracleResponse)
            signature = tx.witnesses[1].invocation_script[2:]
            public_key.verify(  # the node key signed magic || hash (cryptography raises if not)
                encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:])),
                stack.net.magic.to_bytes(4, "little") + tx.hash().to_array(),
                ec.ECDSA(hashes.SHA256()),
            )
            assert await endpoint.post("gettransactionheight", ["0x" + tx.hash().to_array()[::-1].hex()])
            if rid == len(sizes):
                assert tx.system_fee + tx.network_fee == poor
                assert attribute.code == transaction.OracleResponseCode.INSUFFICIENT_FUNDS
                assert attribute.result == b""
            else:
                assert tx.system_fee + tx.network_fee == big_gas
                assert attribute.code == transaction.OracleResponseCode.SUCCESS
                assert attribute.result == b"7" * sizes[rid]
            verification_script = tx.witnesses[1].verification_script
            tx.witnesses = [Witness(b"", b""), Witness(b"", verification_script)]
            assert tx.network_fee == await endpoint.client.calculate_network_fee(tx)
    finally:
        await endpoint.close()


async def wait_status(stack: Stack, request_id: int, status: RequestStatus) -> NativeOracleRequest:
    async def reached() -> bool:
        found = await row(stack, request_id)
        return found is not None and found.status is status

    await wait_for(reached, 30, f"native oracle request {request_id} to be {status.value}")
    found = await row(stack, request_id)
    assert found is not None
    return found


async def test_a_worker_killed_after_writing_the_outbox_answers_each_request_once_and_misses_none(
    nstack: Stack, web: HttpsServer
) -> None:
    """SIGKILL between recording the response transactions and seeing them confirmed, more requests
    while no worker runs, then a new worker: every request answered, each by exactly one response."""
    stack = nstack
    web.routes["/ticker"] = {"price": 7}
    nef, manifest = artifact("native_oracle_consumer")
    consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
    first_block = stack.network.deployed_height
    worker = stack.start_worker()
    await stack.committee.invoke(
        call(consumer, "requestMany", web.url("/ticker"), "$.price", 0, 6, GAS_FOR_RESPONSE)
    )

    async def outbox_written() -> bool:
        return bool(await sql(stack, f"SELECT 1 FROM chain_outbox WHERE service = '{SERVICE}'"))

    await wait_for(outbox_written, 20, "the first native oracle outbox row")
    worker.kill()  # SIGKILL: no clean-up
    worker.wait(timeout=10)
    pending = await sql(
        stack, f"SELECT request_id FROM chain_requests WHERE service = '{SERVICE}' AND status != 'delivered'"
    )
    assert pending, "the kill must land before every request was confirmed"
    await stack.committee.invoke(  # asked while no worker runs: the watcher's cursor finds them
        call(consumer, "requestMany", web.url("/ticker"), "$.price", 100, 4, GAS_FOR_RESPONSE)
    )
    stack.start_worker()
    for rid in range(10):
        await wait_delivered(stack, rid, timeout=30)
    responses = await oracle_events(stack, first_block, "OracleResponse")
    assert responses == dict.fromkeys(range(10), 1)
    assert (await stack.read(consumer, "answers")).as_int() == 10


async def test_with_neo_go_as_a_second_oracle_node_each_response_carries_both_signatures(
    contracts_built: None,
    certificates: LoopbackCertificates,
    web: HttpsServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two designated nodes (2 of 2): our node and neo-go's own oracle service. Neither can answer alone;
    our worker hands its signatures to neo-go (``submitoracleresponse``), neo-go adds its own and sends.
    Each answer on chain carries both nodes' signatures over the same transaction."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # neo-go's fetches trust the test CA
    stack = await open_stack(
        privnet=OraclePrivnet, oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file)
    )
    try:
        ours = bytes.fromhex(stack.network.service_keys["native_oracle"])
        theirs = bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY)
        await designate_oracles(stack.committee, [ours, theirs])
        assert set(await designated_oracles(stack.net.rpc_url)) == {ours, theirs}
        web.routes["/ticker"] = {"price": 42.17}
        nef, manifest = artifact("native_oracle_consumer")
        consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
        first_block = stack.network.deployed_height
        stack.start_worker(NSL_NEO_ORACLE_PEERS=stack.net.rpc_url)
        await stack.committee.invoke(
            call(consumer, "requestMany", web.url("/ticker"), "$.price", 0, 3, GAS_FOR_RESPONSE)
        )

        async def all_answered() -> bool:
            return bool((await stack.read(consumer, "answers")).as_int() == 3)

        await wait_for(all_answered, 30, "three callbacks through two oracle nodes")
        assert (await stack.read(consumer, "lastResult")).value == b"[42.17]"
        for rid in range(3):  # our watcher saw each response: delivered, nothing left to submit
            await wait_delivered(stack, rid)
        responses = await oracle_transactions(stack, first_block)
        assert sorted(responses) == [0, 1, 2]
        keys = {
            key: ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key) for key in (ours, theirs)
        }
        for tx in responses.values():
            invocation = tx.witnesses[1].invocation_script
            signatures = [invocation[i + 2 : i + 66] for i in range(0, len(invocation), 66)]
            assert len(signatures) == 2  # PUSHDATA1 64 <sig>, twice: the 2-of-2 account
            message = stack.net.magic.to_bytes(4, "little") + tx.hash().to_array()
            signers = set()
            for signature in signatures:
                der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
                for key, public in keys.items():
                    try:
                        public.verify(der, message, ec.ECDSA(hashes.SHA256()))
                    except InvalidSignature:
                        continue
                    signers.add(key)
            assert signers == {ours, theirs}
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)


async def oracle_transactions(stack: Stack, first_block: int) -> dict[int, transaction.Transaction]:
    """The transactions that carried an ``OracleResponse`` event since ``first_block``, by request id."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    found: dict[int, transaction.Transaction] = {}
    try:
        head = await endpoint.client.get_block_count() - 1
        for index in range(first_block, head + 1):
            events, _ = await endpoint.block_events(index, ORACLE_CONTRACT)
            for event in events:
                if event.name == "OracleResponse":
                    raw = await endpoint.post("getrawtransaction", [event.tx_hash, False])
                    found[int(event.values[0])] = transaction.Transaction.deserialize_from_bytes(
                        base64.b64decode(raw)
                    )
    finally:
        await endpoint.close()
    return found
