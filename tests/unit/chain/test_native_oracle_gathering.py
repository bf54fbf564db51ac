"""Gathering the designated oracle nodes' signatures (``services.native_oracle.gathering``) over the real
SQL store (SQLite and PostgreSQL), real secp256r1 keys and real response transactions built as the
enclave builds them: ``submitoracleresponse`` keeps a designated node's signature once its message
signature verifies; a transaction signature counts only when it verifies against this node's own
transaction; with ``m`` of them the witness carries them in the keys' multisig order, and the fulfiller
writes and sends the completed transaction; the JSON-RPC route answers as neo-go's does."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from neo3.network.payloads import transaction
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.native_oracle import nodes_account, response_script
from neo_service_layer.enclave.neo_script import push_data
from neo_service_layer.enclave.neo_tx import (
    OracleResponseAttribute,
    OracleResponseCode,
    Signer,
    Transaction,
    Witness,
    WitnessScope,
    hash_text,
    serialize,
    signing_message,
    tx_hash,
)
from neo_service_layer.enclave.wire.native_oracle import (
    ORACLE_CONTRACT,
    NativeResponse,
    Outcome,
    multisig_order,
    submission_message,
)
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.ports.chain import ChainEvent
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.native_oracle.adapters.multisig import NeoMultisig
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.adapters.signatures import (
    MAX_SIGNATURES_PER_KEY,
    SqlSignatureStore,
)
from neo_service_layer.services.native_oracle.gathering import (
    INVALID_PARAMS,
    INVALID_SIGNATURE,
    NOT_DESIGNATED,
    SignatureGatherer,
    SubmissionRefused,
)
from neo_service_layer.services.native_oracle.parts import NativeOracleKeys
from neo_service_layer.services.native_oracle.routes import router
from neo_service_layer.services.native_oracle.rules import NeoResponseCode
from neo_service_layer.services.native_oracle.use_cases import SERVICE, NativeOracleFulfiller, decode_events
from tests.unit.chain.fakes import FakeChain, FakeClock, RecordingObserver

MAGIC = 860833102


class Node:
    """One designated oracle node's key."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32) + s.to_bytes(32)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
        try:
            self.key.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))
        except Exception:
            return False
        return True


def response_tx(nodes: Sequence[bytes], request_id: int, valid_until: int = 6000) -> Transaction:
    _, account = nodes_account(nodes)
    return Transaction(
        nonce=request_id,
        system_fee=90_000_000,
        network_fee=10_000_000,
        valid_until_block=valid_until,
        signers=(
            Signer(bytes.fromhex(ORACLE_CONTRACT[2:])[::-1], WitnessScope.NONE),
            Signer(account, WitnessScope.NONE),
        ),
        script=response_script(),
        attributes=(OracleResponseAttribute(request_id, OracleResponseCode.SUCCESS, b"[42.17]"),),
    )


def signed_by(node: Node, tx: Transaction, nodes: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(the transaction with ``node``'s signature in its witness, that signature), as the enclave
    returns a ``SUBMISSION``."""
    signature = node.sign(signing_message(MAGIC, tx))
    multisig, _ = nodes_account(nodes)
    raw = serialize(
        dataclasses.replace(tx, witnesses=(Witness(b"", b""), Witness(push_data(signature), multisig)))
    )
    return raw, signature


def submission(node: Node, request_id: int, tx: Transaction) -> tuple[bytes, int, bytes, bytes]:
    """What ``node`` sends in ``submitoracleresponse`` for its signature of ``tx``."""
    tx_signature = node.sign(signing_message(MAGIC, tx))
    return (
        node.public,
        request_id,
        tx_signature,
        node.sign(submission_message(node.public, request_id, tx_signature)),
    )


def own_response(node: Node, tx: Transaction, nodes: Sequence[bytes]) -> NativeResponse:
    raw, signature = signed_by(node, tx, nodes)
    (attribute,) = tx.attributes
    assert isinstance(attribute, OracleResponseAttribute)
    return NativeResponse(
        attribute.id,
        Outcome.SUBMISSION,
        code=NeoResponseCode.SUCCESS,
        result=attribute.result,
        raw=raw,
        tx_hash=hash_text(tx_hash(tx)),
        valid_until_block=tx.valid_until_block,
        system_fee=tx.system_fee,
        network_fee=tx.network_fee,
        tx_signature=signature,
        submission_signature=node.sign(submission_message(node.public, attribute.id, signature)),
    )


class Cluster:
    """Four designated nodes: ``m = n - (n - 1) / 3`` = 3 signatures (with three nodes it is 3 too:
    only from four on does a node's loss leave enough); ``a`` is ours."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.a, self.b, self.c, self.d = Node(), Node(), Node(), Node()
        self.nodes = tuple(sorted(n.public for n in (self.a, self.b, self.c, self.d)))
        self.store = SqlSignatureStore(engine)
        self.clock = FakeClock()

        async def designated() -> tuple[bytes, ...]:
            return self.nodes

        self.gatherer = SignatureGatherer(self.store, NeoMultisig(MAGIC), designated, self.clock)

    def check_witness(self, raw: bytes, signers: Sequence[Node]) -> transaction.Transaction:
        """``raw``'s multisig witness holds exactly ``signers``' signatures of it, in key order."""
        tx = transaction.Transaction.deserialize_from_bytes(raw)
        invocation = bytes(tx.witnesses[1].invocation_script)
        signatures = [invocation[i + 2 : i + 66] for i in range(0, len(invocation), 66)]
        assert all(invocation[i : i + 2] == b"\x0c\x40" for i in range(0, len(invocation), 66))
        message = MAGIC.to_bytes(4, "little") + tx.hash().to_array()
        ordered = [n for key in multisig_order(self.nodes) for n in signers if n.public == key]
        assert len(signatures) == len(ordered)
        assert all(n.verifies(s, message) for n, s in zip(ordered, signatures, strict=True))
        assert bytes(tx.witnesses[1].verification_script) == nodes_account(self.nodes)[0]
        return tx


@pytest.fixture
def cluster(engine: AsyncEngine) -> Cluster:
    return Cluster(engine)


async def test_three_of_four_verified_signatures_complete_this_nodes_transaction(cluster: Cluster) -> None:
    c = cluster
    tx = response_tx(c.nodes, 7)
    await c.gatherer.keep(c.a.public, [own_response(c.a, tx, c.nodes)])
    assert await c.gatherer.complete(7, c.nodes) is None  # one signature of three
    _, raw = await c.gatherer.receive(*submission(c.b, 7, tx))
    assert raw is None
    _, raw = await c.gatherer.receive(*submission(c.d, 7, tx))
    assert raw is not None
    completed = c.check_witness(raw, [c.a, c.b, c.d])
    assert completed.hash().to_array() == tx_hash(tx)
    await c.gatherer.receive(*submission(c.c, 7, tx))  # a fourth: still m signatures in the witness
    again = await c.gatherer.complete(7, c.nodes)
    assert again is not None
    assert len(transaction.Transaction.deserialize_from_bytes(again).witnesses[1].invocation_script) == 3 * 66


async def test_a_signature_that_arrives_first_counts_once_this_node_has_its_transaction(
    cluster: Cluster,
) -> None:
    c = cluster
    tx = response_tx(c.nodes, 8)
    for other in (c.c, c.d):
        _, raw = await c.gatherer.receive(*submission(other, 8, tx))
        assert raw is None  # kept, unverified until this node's transaction exists
    await c.gatherer.keep(c.a.public, [own_response(c.a, tx, c.nodes)])
    done = await c.gatherer.complete(8, c.nodes)
    assert done is not None
    c.check_witness(done, [c.a, c.c, c.d])


async def test_a_signature_of_another_transaction_or_by_another_key_does_not_count(cluster: Cluster) -> None:
    c = cluster
    tx = response_tx(c.nodes, 9)
    await c.gatherer.keep(c.a.public, [own_response(c.a, tx, c.nodes)])
    await c.gatherer.receive(*submission(c.c, 9, tx))
    other_answer = response_tx(c.nodes, 9, valid_until=6001)  # b built another transaction
    _, raw = await c.gatherer.receive(*submission(c.b, 9, other_answer))
    assert raw is None
    assert len(await c.store.signatures(9)) == 3  # kept (it may be for a backup), not counted


async def test_a_submission_that_does_not_verify_or_is_not_from_a_designated_key_is_refused(
    cluster: Cluster,
) -> None:
    c = cluster
    tx = response_tx(c.nodes, 10)
    key, rid, tx_sig, msg_sig = submission(c.b, 10, tx)
    with pytest.raises(SubmissionRefused) as refused:
        await c.gatherer.receive(key, rid, tx_sig, c.c.sign(submission_message(key, rid, tx_sig)))
    assert refused.value.code == INVALID_SIGNATURE
    with pytest.raises(SubmissionRefused) as refused:
        await c.gatherer.receive(key, rid + 1, tx_sig, msg_sig)  # signed for another request
    assert refused.value.code == INVALID_SIGNATURE
    stranger = Node()
    with pytest.raises(SubmissionRefused) as refused:
        await c.gatherer.receive(*submission(stranger, 10, tx))
    assert refused.value.code == NOT_DESIGNATED
    for bad in (
        (key[:32], rid, tx_sig, msg_sig),
        (key, -1, tx_sig, msg_sig),
        (key, rid, tx_sig[:63], msg_sig),
    ):
        with pytest.raises(SubmissionRefused) as refused:
            await c.gatherer.receive(*bad)
        assert refused.value.code == INVALID_PARAMS
    assert await c.store.signatures(10) == []


async def test_a_key_keeps_its_latest_signatures_only(cluster: Cluster) -> None:
    c = cluster
    sent = []
    for valid_until in range(6000, 6000 + MAX_SIGNATURES_PER_KEY + 2):
        c.clock.advance(1)
        submitted = submission(c.b, 11, response_tx(c.nodes, 11, valid_until))
        sent.append(submitted[2])
        await c.gatherer.receive(*submitted)
    kept = await c.store.signatures(11)
    assert [s for _, s in kept] == sent[-MAX_SIGNATURES_PER_KEY:]
    await c.gatherer.forget([11])
    assert await c.store.signatures(11) == []


async def test_rows_older_than_two_days_go_when_this_node_keeps_new_ones(cluster: Cluster) -> None:
    """A request another node answered leaves its signatures and our waiting transaction behind."""
    c = cluster
    old = response_tx(c.nodes, 13)
    await c.gatherer.keep(c.a.public, [own_response(c.a, old, c.nodes)])
    await c.gatherer.receive(*submission(c.b, 13, old))
    c.clock.advance(2 * 86400 + 1)
    await c.gatherer.keep(c.a.public, [own_response(c.a, response_tx(c.nodes, 14), c.nodes)])
    assert await c.store.signatures(13) == []
    assert await c.store.pending(13) is None
    assert await c.store.pending(14) is not None


class SubmittingNode:
    """The ``NativeOracleChain`` port for our node ``a`` of the cluster: the enclave's ``SUBMISSION``
    is ``a``'s real signed transaction; records what goes to the peers."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.submitted: list[list[int]] = []

    @property
    def public_key(self) -> bytes:
        return self.cluster.a.public

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        return self.cluster.nodes

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return False

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        c = self.cluster
        return [own_response(c.a, response_tx(c.nodes, i), c.nodes) for i in request_ids]

    async def submit(self, responses: Sequence[NativeResponse], nodes: Sequence[bytes]) -> int:
        self.submitted.append([r.request_id for r in responses])
        return 2


async def test_the_worker_writes_and_sends_a_response_the_gathered_signatures_complete(
    cluster: Cluster, engine: AsyncEngine
) -> None:
    """Request 1 got b's and c's signatures before our enclave answered: completed, written to the outbox and
    sent with both signatures. Request 2 has none yet: our signature goes to the peers, nothing is sent."""
    c = cluster
    store = SqlRequestStore(engine, NativeOraclePayloads())
    chain = FakeChain(head=1)
    node = SubmittingNode(c)
    fulfiller = NativeOracleFulfiller(
        chain, node, store, c.clock, RecordingObserver(), worker_id="w1", gatherer=c.gatherer
    )
    events = [
        ChainEvent(1, f"0xreq{i}", ORACLE_CONTRACT, "OracleRequest", (i, b"\x33" * 20, b"https://x", b"$.p"))
        for i in (1, 2)
    ]
    new, _ = decode_events(events)
    await store.apply_block("native", SERVICE, ORACLE_CONTRACT, 1, None, new, [], c.clock.now())
    for other in (c.b, c.c):
        await c.gatherer.receive(*submission(other, 1, response_tx(c.nodes, 1)))
    assert await fulfiller.run_once() == 2
    assert node.submitted == [[1, 2]]
    (sent,) = chain.sent
    tx = c.check_witness(sent, [c.a, c.b, c.c])
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert attribute.id == 1
    (outbox,) = await store.pending_outbox(SERVICE)
    assert outbox.raw == sent
    answered = await store.get(SERVICE, ORACLE_CONTRACT, 1)
    assert answered is not None
    assert (answered.status, answered.attempts) == (RequestStatus.FULFILLING, 1)
    waiting = await store.get(SERVICE, ORACLE_CONTRACT, 2)
    assert waiting is not None
    assert waiting.status is RequestStatus.SEEN
    assert await c.store.pending(2) is not None  # our transaction waits for the others' signatures


async def test_the_rpc_route_serves_submitoracleresponse_as_neo_go_does(cluster: Cluster) -> None:
    c = cluster
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    chain = FakeChain(head=1)
    app.state.container = SimpleNamespace(
        parts={SERVICE: NativeOracleKeys(None, c.gatherer)}, chain=SimpleNamespace(chain=chain)
    )
    tx = response_tx(c.nodes, 12)
    await c.gatherer.keep(c.a.public, [own_response(c.a, tx, c.nodes)])
    await c.gatherer.receive(*submission(c.d, 12, tx))

    async def call(body: Any) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = await client.post("/api/v1/native-oracle/rpc", content=content)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    def params(key: bytes, rid: int, tx_sig: bytes, msg_sig: bytes) -> list[Any]:
        return [
            base64.b64encode(key).decode(),
            rid,
            base64.b64encode(tx_sig).decode(),
            base64.b64encode(msg_sig).decode(),
        ]

    key, rid, tx_sig, msg_sig = submission(c.b, 12, tx)
    wrong = await call(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "submitoracleresponse",
            "params": params(key, rid, tx_sig, tx_sig),
        }
    )
    assert wrong["error"]["code"] == INVALID_SIGNATURE
    assert chain.sent == []
    assert (await call({"jsonrpc": "2.0", "id": 2, "method": "getversion", "params": []}))["error"][
        "code"
    ] == -32601
    assert (await call(b"{not json"))["error"]["code"] == -32700
    garbled = await call(
        {"jsonrpc": "2.0", "id": 3, "method": "submitoracleresponse", "params": ["%%", 1, "", ""]}
    )
    assert garbled["error"]["code"] == INVALID_PARAMS
    ok = await call(
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "submitoracleresponse",
            "params": params(key, rid, tx_sig, msg_sig),
        }
    )
    assert ok == {"jsonrpc": "2.0", "id": 4, "result": {}}
    (sent,) = chain.sent  # this node completed its transaction and sent it, as neo-go does
    c.check_witness(sent, [c.a, c.b, c.d])
    assert await c.store.pending(12) is None  # sent: the waiting transaction and signatures are dropped
    assert await c.store.signatures(12) == []
