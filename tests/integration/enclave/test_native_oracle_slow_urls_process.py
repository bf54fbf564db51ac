"""The native Oracle node against a real enclave process with slow and timing-out sources (issue #19).

The worker's fulfiller (real SQL store, system clock, a 1 s lease) asks a real enclave process, which reads
the requests from a JSON-RPC fake of its Neo node and fetches the URLs itself from an https server on
127.0.0.1: some answer at once, some after 1.5 s (longer than the lease), some never within the enclave's
5 s fetch timeout. Before, a batch slower than its lease was claimed, fetched and dropped as "lease lost"
forever; now every request is answered once, each URL fetched once, the claims renewed while the slow
sources load (the lease in the database moves), the fast answers written while the slow ones are unanswered.
Order and counts are asserted, not durations.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from enclave_process_fakes import PeerEnclave
from neo3.network.payloads import transaction
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from test_enclave_native_oracle_process import MAGIC, TOKENS, FakeNode, _stored_request
from test_enclave_native_oracle_process import node as node  # the JSON-RPC fake
from tests.e2e.chain.tls_support import HttpsServer, LoopbackCertificates, https_server, make_certificates
from tests.unit.chain.fakes import FakeChain, RecordingObserver

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, Purpose, SealedKey
from neo_service_layer.enclave.wire.native_oracle import NativeResponse
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.tables import chain_requests
from neo_service_layer.kernel.chain.ports.chain import ChainEvent, SendResult
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT, NeoResponseCode
from neo_service_layer.services.native_oracle.use_cases import (
    SERVICE,
    NativeOracleFulfiller,
    NativeOracleStore,
    decode_events,
)

pytestmark = pytest.mark.slow

LEASE = 1.0
SLOW = 1.5  # longer than the lease
NEVER = 7.0  # longer than the enclave's 5 s fetch timeout


@pytest.fixture
def certificates(tmp_path: Path) -> LoopbackCertificates:
    return make_certificates(tmp_path / "tls")


@pytest.fixture
def web(certificates: LoopbackCertificates) -> Iterator[HttpsServer]:
    with https_server(certificates) as server:
        yield server


@pytest.fixture
def enclave(node: tuple[FakeNode, str], certificates: LoopbackCertificates) -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-ns-"))  # short: Unix socket paths are limited
    extra = {
        "NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS),
        "NSL_ENCLAVE_TOKEN": "",
        "NSL_NEO_RPC_URLS": node[1],
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_CA_FILE": str(certificates.ca_file),
    }
    process = PeerEnclave(directory, directory / "e.sock", token="", extra=extra)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def clients(enclave: PeerEnclave) -> AsyncIterator[tuple[EnclaveClient, EnclaveClient]]:
    """(worker, cli) clients of the enclave process."""
    worker = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=5)
    cli = EnclaveClient(enclave.socket_path, TOKENS["cli"], timeout=5)
    try:
        yield worker, cli
    finally:
        await worker.close()
        await cli.close()


@pytest.fixture
async def db(make_settings: Callable[..., Settings]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings())
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def store(db: AsyncEngine) -> NativeOracleStore:
    return SqlRequestStore(db, NativeOraclePayloads())


async def watch_leases(db: AsyncEngine, ids: Sequence[int], seen: dict[int, list[datetime]]) -> None:
    """Record each distinct ``lease_until`` the database holds for ``ids`` until cancelled."""
    r = chain_requests
    query = select(r.c.request_id, r.c.lease_until).where(
        r.c.service == SERVICE, r.c.contract == ORACLE_CONTRACT, r.c.request_id.in_(list(ids))
    )
    while True:
        async with db.connect() as conn:
            for request_id, until in (await conn.execute(query)).all():
                if until is not None and until not in seen.setdefault(int(request_id), []):
                    seen[int(request_id)].append(until)
        await asyncio.sleep(0.05)


def web_body(path: str) -> bytes:
    return json.dumps({"price": len(path)}).encode()


class EnclaveNode:
    """The ``NativeOracleChain`` port over the real enclave process (one designated node: ours);
    records each ``native_oracle_respond`` call."""

    def __init__(self, client: EnclaveClient, key: SealedKey) -> None:
        self._client = client
        self._key = key
        self.calls: list[list[int]] = []

    @property
    def public_key(self) -> bytes:
        return self._key.info.public_key

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        return (self.public_key,)

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return True

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        self.calls.append(list(request_ids))
        return await self._client.native_oracle_respond(
            self._key.info.key_id, magic=MAGIC, request_ids=request_ids, valid_until_blocks=10
        )

    async def submit(self, responses: Sequence[NativeResponse], nodes: Sequence[bytes]) -> int:
        raise AssertionError("one designated node: nothing to submit")


def response_id(raw: bytes) -> int:
    """The request id a signed response transaction answers."""
    (attribute,) = transaction.Transaction.deserialize_from_bytes(raw).attributes
    assert isinstance(attribute, transaction.OracleResponse)
    return int(attribute.id)


class TimedChain(FakeChain):
    """Records, as each response transaction is sent, how many of ``watched`` requests are still unanswered
    in ``store`` (and, for the printout only, the seconds since ``start``)."""

    def __init__(self, store: NativeOracleStore, watched: Sequence[int]) -> None:
        super().__init__(head=1)
        self._store = store
        self._watched = list(watched)
        self.start = time.monotonic()
        self.sent_at: list[float] = []
        self.unanswered_at_send: list[int] = []

    async def send(self, raw: bytes) -> SendResult:
        self.sent_at.append(time.monotonic() - self.start)
        rows = [await self._store.get(SERVICE, ORACLE_CONTRACT, rid) for rid in self._watched]
        self.unanswered_at_send.append(sum(1 for r in rows if r is not None and r.answer is None))
        return await super().send(raw)


async def test_slow_and_timing_out_sources_longer_than_the_lease_are_each_answered_once(
    clients: tuple[EnclaveClient, EnclaveClient],
    node: tuple[FakeNode, str],
    web: HttpsServer,
    store: NativeOracleStore,
    db: AsyncEngine,
) -> None:
    worker, cli = clients
    key = await cli.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NATIVE_ORACLE]))
    fake = node[0]
    fake.designated = [key.info.public_key]
    paths = [f"/fast{i}" for i in range(4)] + [f"/slow{i}" for i in range(4)] + ["/never0", "/never1"]
    for path in paths:
        web.routes[path] = {"price": len(path)}  # no filter: the body is the result
        web.delays[path] = SLOW if "slow" in path else NEVER if "never" in path else 0.0
    # two requests per URL, oldest first in path order: 20 requests, 10 URLs
    asked = {2 * i + k: path for i, path in enumerate(paths) for k in range(2)}
    events = [
        ChainEvent(
            1, f"0xreq{rid}", ORACLE_CONTRACT, "OracleRequest", (rid, b"\x33" * 20, web.url(p).encode(), None)
        )
        for rid, p in asked.items()
    ]
    new, _ = decode_events(events)
    clock = SystemClock()
    await store.apply_block("native", SERVICE, ORACLE_CONTRACT, 1, None, new, [], clock.now())
    for rid, path in asked.items():
        fake.requests[rid] = _stored_request(web.url(path))

    enclave_node = EnclaveNode(worker, key)
    not_fast = [rid for rid, path in asked.items() if "fast" not in path]
    never = [rid for rid, path in asked.items() if "never" in path]
    chain = TimedChain(store, not_fast)
    observer = RecordingObserver()
    fulfiller = NativeOracleFulfiller(
        chain, enclave_node, store, clock, observer, worker_id="w1", lease_seconds=LEASE,
        urls_per_call=2, calls_in_flight=5,
    )  # fmt: skip
    runs = 0
    leases: dict[int, list[datetime]] = {}
    watcher = asyncio.create_task(watch_leases(db, never, leases))
    try:
        async with asyncio.timeout(60):
            while await fulfiller.run_once():  # as the worker's job runs it
                runs += 1
                assert runs <= 3, "claimed again and again: a livelock"
    finally:
        watcher.cancel()
    assert runs == 1
    # the claims of the timing-out sources were renewed while they loaded: their lease moved on, several
    # times, in the database (no other worker could have claimed them meanwhile)
    for rid in never:
        assert len(leases[rid]) >= 3, leases[rid]
        assert leases[rid] == sorted(leases[rid]), leases[rid]
    assert sorted(map(sorted, enclave_node.calls)) == [
        [2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3] for i in range(0, 10, 2)
    ]
    assert web.hits == dict.fromkeys(paths, 1)  # each URL fetched once: nothing fetched again
    outbox = await store.pending_outbox(SERVICE)
    assert len(outbox) == len(chain.sent) == 20  # one response transaction each
    for rid, path in asked.items():
        row = await store.get(SERVICE, ORACLE_CONTRACT, rid)
        assert row is not None
        assert (row.status, row.attempts) == (RequestStatus.FULFILLING, 1)
        assert row.answer is not None
        if "never" in path:
            assert (row.answer.code, row.answer.result) == (NeoResponseCode.TIMEOUT, b"")
        else:
            assert (row.answer.code, row.answer.result) == (NeoResponseCode.SUCCESS, web_body(path))
    assert "lease_lost" not in observer.transactions
    order = list(map(response_id, chain.sent))
    fast = [order.index(rid) for rid, path in asked.items() if "fast" in path]
    assert sorted(fast) == list(range(len(fast)))  # the fast answers went out first,
    for position in fast:  # written and sent while every slow and timing-out request was unanswered
        assert chain.unanswered_at_send[position] == len(not_fast)
    print(
        f"\nslow sources: sent at {[round(t, 2) for t in chain.sent_at]} s; {len(enclave_node.calls)} calls"
    )
