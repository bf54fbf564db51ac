"""The on-chain oracle service (``services.oracle``): answering requests and sending the fulfilments.

In-memory fakes only (``tests.unit.chain.fakes``): a chain that records every dry-run, build and send
and faults on demand, an enclave that fetches and signs deterministically, a chain store with the SQL
store's lease rules, a hand-moved clock and a recording observer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.errors import NotFound, PermissionDenied
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER as OWNER
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
    response_message,
)
from neo_service_layer.enclave.wire.randomness import script_hash_bytes
from neo_service_layer.kernel.chain.ports.chain import (
    ChainEvent,
    ChainUnavailable,
    ContractCall,
    DryRun,
    SendOutcome,
)
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    Fulfilment,
    Lease,
    RequestStatus,
    RequestUpdate,
)
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult, OracleTemplate, new_template
from neo_service_layer.services.oracle.use_cases.fulfilment import (
    SERVICE,
    OracleAnswerer,
    OracleFulfiller,
    OracleKey,
    decode_events,
)
from tests.unit.chain.fakes import (
    CONSUMER,
    CONTRACT,
    FakeChain,
    FakeClock,
    FakeEnclave,
    Fetch,
    MemoryRequestStore,
    RecordingObserver,
    fake_signature,
)

KEY = OracleKey("oracle-key", b"\x03" * 33)
CONSUMER_HASH = "0x" + CONSUMER[::-1].hex()
URL = "https://api.example.com/price"
FILTER = "$.price"
FETCHED_AT = 1_767_225_600_123


class Templates:
    """A ``TemplateStore`` over a dict."""

    def __init__(self, *templates: OracleTemplate) -> None:
        self.by_id = {t.template_id: t for t in templates}
        self.resolved: list[str] = []

    async def add(self, template: OracleTemplate) -> None:
        self.by_id[template.template_id] = template

    async def get(self, tenant_id: str, template_id: str) -> OracleTemplate | None:
        found = self.by_id.get(template_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def list(self, tenant_id: str) -> list[OracleTemplate]:
        return [t for t in self.by_id.values() if t.tenant_id == tenant_id]

    async def resolve(self, template_id: str) -> OracleTemplate | None:
        self.resolved.append(template_id)
        return self.by_id.get(template_id)


class Secrets:
    """A ``SealedSecretReader``: (tenant, name) -> (label, blob), or the error to raise; records reads."""

    def __init__(self, values: dict[tuple[str, str], tuple[str, bytes] | Exception] | None = None) -> None:
        self.values = values or {}
        self.reads: list[tuple[str, str]] = []

    async def __call__(self, tenant: str, name: str) -> tuple[str, bytes]:
        self.reads.append((tenant, name))
        value = self.values.get((tenant, name), NotFound(f"secret {name} not found"))
        if isinstance(value, Exception):
            raise value
        return value


def template(
    template_id: str = "pricefeed01",
    *,
    consumers: Sequence[str] = (CONSUMER_HASH,),
    headers: tuple[tuple[str, str], ...] = (("Authorization", "Bearer {{secret:api-token}}"),),
) -> OracleTemplate:
    spec = FetchSpec(url="https://paid.example.com/v1/quote", headers=headers)
    return new_template(template_id, "tenant-a", spec, list(consumers), "", datetime(2026, 1, 1, tzinfo=UTC))


def make_answerer(
    enclave: FakeEnclave,
    clock: FakeClock | None = None,
    templates: Templates | None = None,
    secrets: Secrets | None = None,
) -> OracleAnswerer:
    return OracleAnswerer(
        lambda: enclave, KEY, templates or Templates(), secrets or Secrets(), clock or FakeClock()
    )


class World:
    """One fulfiller over fakes, and the fakes to look at afterwards."""

    def __init__(self, chain: FakeChain | None = None, **options: Any) -> None:
        self.chain = chain or FakeChain(head=1)
        self.store = MemoryRequestStore[OracleParams, OracleResult]()
        self.enclave = FakeEnclave(fetched_at_ms=FETCHED_AT)
        self.clock = FakeClock()
        self.observer = RecordingObserver()
        self.templates = Templates()
        self.secrets = Secrets()
        answerer = make_answerer(self.enclave, self.clock, self.templates, self.secrets)
        self.fulfiller = self.make("w1", answerer, **options)

    def make(self, worker: str, answerer: OracleAnswerer, **options: Any) -> OracleFulfiller:
        return OracleFulfiller(
            self.chain,
            self.store,  # type: ignore[arg-type]
            answerer,
            self.clock,
            self.observer,
            contract=CONTRACT,
            worker_id=worker,
            **options,
        )

    def request(self, request_id: int, url: str = URL, filter_: str = FILTER, block: int = 1) -> None:
        event = ChainEvent(
            block, f"0xreq{request_id}", CONTRACT, "OracleRequested",
            (request_id, CONSUMER, url.encode(), filter_.encode()),
        )  # fmt: skip
        new, _ = decode_events([event])
        self.store.add(SERVICE, CONTRACT, new)

    def status(self, request_id: int) -> RequestStatus:
        return self.store.status(SERVICE, CONTRACT, request_id)

    async def claim_as(self, worker: str) -> list[int]:
        now = self.clock.now()
        claimed = await self.store.claim(SERVICE, CONTRACT, worker, now, now.replace(year=2027), 100)
        return [r.request_id for r in claimed]

    def fulfilment(self, request_id: int) -> Fulfilment[OracleResult]:
        (found,) = [
            f for o in self.store.outbox.values() for f in o.fulfilments if f.request_id == request_id
        ]
        return found


def onchain(request_id: int, url: str, filter_: str, consumer: bytes = CONSUMER) -> OracleFacts:
    """The facts of a request to the fake chain's oracle contract."""
    return OracleFacts(FakeChain.magic, script_hash_bytes(CONTRACT), request_id, consumer, url, filter_)


def signed(request_id: int, code: ResultCode, timestamp: int, url: str, filter_: str, result: bytes) -> bytes:
    message = response_message(onchain(request_id, url, filter_), code, timestamp, result)
    return fake_signature(KEY.key_id, message)


def methods(chain: FakeChain) -> list[list[tuple[str, Any]]]:
    return [[(c.method, c.args[0]) for c in calls] for calls in chain.built]


# OracleFulfiller --------------------------------------------------------------------------------------


async def test_a_claimed_request_gets_an_outbox_transaction_and_moves_on() -> None:
    w = World()
    w.request(7)
    assert await w.fulfiller.run_once() == 1

    assert w.enclave.fetches == [
        Fetch(7, FetchSpec(url=URL, filter=FILTER), OWNER, KEY.key_id, OWNER, None, ())
    ]
    signature = signed(7, ResultCode.SUCCESS, FETCHED_AT, URL, FILTER, b'"42"')
    assert w.chain.built == [
        [
            ContractCall(CONTRACT, "fulfill", (7, 0, b'"42"', FETCHED_AT, signature)),
            ContractCall(CONTRACT, "deliver", (7,)),
        ]
    ]
    (tx_hash,) = w.store.outbox
    outboxed = w.store.outbox[tx_hash]
    assert outboxed.fulfilments == [Fulfilment(7, OracleResult(0, b'"42"', FETCHED_AT), True, None)]
    assert w.chain.sent == [outboxed.tx.raw]
    assert outboxed.sends == [None]  # marked sent, no error
    assert w.observer.transactions == ["accepted"]
    row = await w.store.get(SERVICE, CONTRACT, 7)
    assert row is not None
    assert (row.status, row.tx_hash, row.with_delivery) == (RequestStatus.FULFILLING, tx_hash, True)
    assert row.asked == OracleParams(URL, FILTER)
    assert row.answer == OracleResult(ResultCode.SUCCESS, b'"42"', FETCHED_AT)
    # answered: nothing is claimed, fetched or sent again
    assert await w.fulfiller.run_once() == 0
    assert (len(w.enclave.fetches), len(w.chain.dry_runs), len(w.chain.sent)) == (1, 1, 1)


async def test_nothing_waiting_does_nothing() -> None:
    w = World()
    assert await w.fulfiller.run_once() == 0
    assert (w.enclave.fetches, w.chain.dry_runs, w.store.outbox) == ([], [], {})


async def test_answers_go_several_to_a_transaction() -> None:
    w = World(per_transaction=2)
    for rid in range(5):
        w.request(rid)
    assert await w.fulfiller.run_once() == 5
    assert methods(w.chain) == [
        [("fulfill", 0), ("deliver", 0), ("fulfill", 1), ("deliver", 1)],
        [("fulfill", 2), ("deliver", 2), ("fulfill", 3), ("deliver", 3)],
        [("fulfill", 4), ("deliver", 4)],
    ]
    assert len(w.store.outbox) == 3
    assert {w.status(rid) for rid in range(5)} == {RequestStatus.FULFILLING}


async def test_a_request_that_faulted_on_chain_is_never_batched_again() -> None:
    """A consumer contract cannot make other consumers' requests fail or be retried forever."""
    w = World(per_transaction=2)
    for rid in range(5):
        w.request(rid)
    key = (SERVICE, CONTRACT, 2)
    w.store.rows[key] = replace(w.store.rows[key], chain_faults=1, with_delivery=True)
    assert await w.fulfiller.run_once() == 5
    assert methods(w.chain) == [
        [("fulfill", 2), ("deliver", 2)],  # alone, with its callback once more
        [("fulfill", 0), ("deliver", 0), ("fulfill", 1), ("deliver", 1)],
        [("fulfill", 3), ("deliver", 3), ("fulfill", 4), ("deliver", 4)],
    ]


async def test_large_results_get_a_transaction_each() -> None:
    w = World(max_transaction_result_bytes=48 * 1024)
    w.enclave.default_result = b"x" * 30_000  # two would exceed the transaction's budget
    for rid in range(3):
        w.request(rid)
    await w.fulfiller.run_once()
    assert methods(w.chain) == [[("fulfill", r), ("deliver", r)] for r in range(3)]


async def test_fetches_are_limited_to_the_configured_concurrency() -> None:
    class CountingEnclave(FakeEnclave):
        active = 0
        most = 0

        async def oracle_fetch(self, *args: Any, **kwargs: Any) -> OracleResponse:
            self.active += 1
            self.most = max(self.most, self.active)
            for _ in range(5):
                await asyncio.sleep(0)
            self.active -= 1
            return await super().oracle_fetch(*args, **kwargs)

    w = World()
    enclave = CountingEnclave()
    fulfiller = w.make("w1", make_answerer(enclave, w.clock), fetch_concurrency=2)
    for rid in range(6):
        w.request(rid)
    assert await fulfiller.run_once() == 6
    assert enclave.most == 2
    assert len(enclave.fetches) == 6


async def test_a_lease_that_runs_out_unclaimed_during_a_slow_fetch_is_taken_back_and_sent() -> None:
    """Issue #19: the answer was dropped as "lease lost" and the request claimed and fetched again, for
    ever when every batch outlasted the lease. A lease no other worker took is renewed before the write."""
    w = World(lease_seconds=30)
    w.request(1)
    w.request(2)
    w.enclave.on_fetch = lambda request_id, spec: w.clock.advance(31)
    assert await w.fulfiller.run_once() == 2
    assert await w.fulfiller.run_once() == 0  # nothing claimed again
    assert [f.request_id for f in w.enclave.fetches] == [1, 2]  # each fetched once
    assert len(w.chain.sent) == 1  # one transaction answering both
    assert "lease_lost" not in w.observer.transactions
    assert w.status(1) is w.status(2) is RequestStatus.FULFILLING


async def test_the_claims_are_renewed_while_slow_sources_load() -> None:
    """Fetches three leases long: no other worker can claim the requests meanwhile."""
    w = World(lease_seconds=30)
    taken: list[list[int]] = []
    leases: list[datetime] = []

    class SlowEnclave(FakeEnclave):
        async def oracle_fetch(self, *args: Any, **kwargs: Any) -> OracleResponse:
            for _ in range(6):  # half a lease at a time
                w.clock.advance(15)
                seen = w.store.leases[(SERVICE, CONTRACT, 1)].until
                async with asyncio.timeout(10):  # the keeper renews every 10 ms: wait for a renewal
                    while w.store.leases[(SERVICE, CONTRACT, 1)].until == seen:
                        await asyncio.sleep(0.01)
                until = w.store.leases[(SERVICE, CONTRACT, 1)].until
                assert until is not None
                leases.append(until)
                taken.append(await w.claim_as("w2"))
            return await super().oracle_fetch(*args, **kwargs)

    enclave = SlowEnclave(fetched_at_ms=FETCHED_AT)
    fulfiller = w.make("w1", make_answerer(enclave, w.clock), lease_seconds=30, renew_every=0.01)
    w.request(1)
    assert await fulfiller.run_once() == 1
    assert taken == [[]] * 6
    assert len(set(leases)) == 6  # the lease moved on, each time
    assert leases == sorted(leases)
    assert len(enclave.fetches) == 1
    assert len(w.chain.sent) == 1
    assert w.status(1) is RequestStatus.FULFILLING


async def test_a_request_taken_over_by_another_worker_is_left_to_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = World(lease_seconds=30)
    w.request(1)
    key = (SERVICE, CONTRACT, 1)

    def taken_over(request_id: int, spec: FetchSpec) -> None:
        w.clock.advance(31)
        w.store.leases[key] = Lease("w2", w.clock.now() + timedelta(seconds=30))  # w2 claimed it meanwhile

    w.enclave.on_fetch = taken_over
    caplog.set_level(logging.WARNING)
    await w.fulfiller.run_once()
    assert w.chain.sent == []
    assert w.observer.transactions == ["lease_lost"]
    (warning,) = [r for r in caplog.records if "lease lost" in r.getMessage()]  # not only a metric
    assert "'request_ids': [1]" in warning.getMessage()
    assert w.store.leases[key].owner == "w2"  # w1 did not release w2's lease
    assert w.status(1) is RequestStatus.SEEN
    assert w.chain.built == []  # dropped before anything was built or signed


async def test_a_request_taken_over_is_left_out_and_the_rest_of_its_batch_is_sent() -> None:
    """w1 stalls past its lease; w2 claims request 1 only: w1 sends 2 (its lease taken back) and drops 1,
    rather than losing the whole transaction at the outbox write."""
    w = World(lease_seconds=30)
    w.request(1)
    w.request(2)

    def stall(request_id: int, spec: FetchSpec) -> None:
        if request_id == 2:
            w.clock.advance(31)
            w.store.leases[(SERVICE, CONTRACT, 1)] = Lease("w2", w.clock.now() + timedelta(seconds=30))

    w.enclave.on_fetch = stall
    assert await w.fulfiller.run_once() == 2
    assert w.observer.transactions.count("lease_lost") == 1
    assert w.status(1) is RequestStatus.SEEN  # w2's to answer
    assert w.status(2) is RequestStatus.FULFILLING
    assert len(w.chain.sent) == 1
    assert [f.request_id for f in w.enclave.fetches] == [1, 2]


async def test_a_faulting_callback_still_gets_its_answer_on_chain() -> None:
    """``deliver`` aborts for request 2: the batch is split, 2 gets ``[fulfill; markCallbackFailed]``."""
    w = World(chain=FakeChain(head=1, fault_deliver={2: "ABORTMSG is executed: not today"}))
    w.request(1)
    w.request(2)
    await w.fulfiller.run_once()
    reason = "callback faults: ABORTMSG is executed: not today"
    assert w.chain.dry_runs[0] == [
        *w.chain.built[0],
        ContractCall(CONTRACT, "fulfill", w.chain.built[1][0].args),
        ContractCall(CONTRACT, "deliver", (2,)),
    ]  # the batch was tried first
    assert methods(w.chain) == [[("fulfill", 1), ("deliver", 1)], [("fulfill", 2), ("markCallbackFailed", 2)]]
    assert w.chain.built[1][1] == ContractCall(CONTRACT, "markCallbackFailed", (2, reason))
    assert (w.fulfilment(1).with_delivery, w.fulfilment(1).callback_failure) == (True, None)
    assert (w.fulfilment(2).with_delivery, w.fulfilment(2).callback_failure) == (False, reason)
    assert (w.status(1), w.status(2)) == (RequestStatus.FULFILLING, RequestStatus.FULFILLING)
    assert len(w.chain.sent) == 2
    assert w.observer.outcomes == []  # nothing failed


async def test_a_faulting_callback_without_mark_permission_gets_fulfil_alone() -> None:
    w = World(chain=FakeChain(head=1, fault_deliver={1: "ABORT"}, fault_mark=True))
    w.request(1)
    await w.fulfiller.run_once()
    assert methods(w.chain) == [[("fulfill", 1)]]
    assert w.fulfilment(1).callback_failure == "callback faults: ABORT"
    assert w.fulfilment(1).with_delivery is False
    assert w.status(1) is RequestStatus.FULFILLING


async def test_a_callback_above_the_gas_cap_is_not_delivered() -> None:
    w = World(max_callback_gas=1_500_000)  # the fake charges 1_000_000 per call: fulfill + deliver is 2M
    w.request(1)
    await w.fulfiller.run_once()
    assert methods(w.chain) == [[("fulfill", 1), ("markCallbackFailed", 1)]]
    assert w.fulfilment(1).callback_failure == "callback needs more than the GAS cap (2000000)"


async def test_a_long_vm_reason_is_cut_to_the_limit() -> None:
    w = World(chain=FakeChain(head=1, fault_deliver={1: "x" * 1000}))
    w.request(1)
    await w.fulfiller.run_once()
    reason = w.chain.built[0][1].args[1]
    assert isinstance(reason, str)
    assert len(reason) == 256
    assert reason.startswith("callback faults: xxx")


async def test_a_fulfilment_that_faults_is_never_sent_and_marked_failed() -> None:
    w = World(chain=FakeChain(head=1, fault_fulfill={1: "invalid signature"}))
    w.request(1)
    w.request(2)
    await w.fulfiller.run_once()
    assert methods(w.chain) == [[("fulfill", 2), ("deliver", 2)]]
    assert w.store.failed == [(1, "invalid signature")]
    assert (w.status(1), w.status(2)) == (RequestStatus.FAILED, RequestStatus.FULFILLING)
    assert w.observer.outcomes == ["failed"]


async def test_an_enclave_error_releases_that_request_and_the_others_are_sent() -> None:
    w = World()
    w.request(1, url="https://a.example/p")
    w.request(2, url="https://b.example/p")
    w.enclave.errors["https://b.example/p"] = EnclaveUnavailable("socket down")
    with pytest.raises(EnclaveUnavailable, match="socket down"):
        await w.fulfiller.run_once()
    assert methods(w.chain) == [[("fulfill", 1), ("deliver", 1)]]
    assert w.store.released == [[2]]
    assert (w.status(1), w.status(2)) == (RequestStatus.FULFILLING, RequestStatus.SEEN)
    assert await w.claim_as("w2") == [2]  # at once, not after the lease


async def test_a_chain_error_while_sending_releases_the_group() -> None:
    class Unreachable(FakeChain):
        async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
            raise ChainUnavailable("no RPC endpoint answered")

    w = World(chain=Unreachable(head=1))
    w.request(1)
    w.request(2)
    with pytest.raises(ChainUnavailable):
        await w.fulfiller.run_once()
    assert w.store.released == [[1, 2]]
    assert w.store.outbox == {}
    assert (w.status(1), w.status(2)) == (RequestStatus.SEEN, RequestStatus.SEEN)
    assert await w.claim_as("w2") == [1, 2]


async def test_a_chain_error_releases_the_failing_group_and_every_group_not_tried_yet() -> None:
    class Unreachable(FakeChain):
        async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
            raise ChainUnavailable("no RPC endpoint answered")

    w = World(chain=Unreachable(head=1), per_transaction=1)  # three requests, three groups
    for rid in (1, 2, 3):
        w.request(rid)
    with pytest.raises(ChainUnavailable):
        await w.fulfiller.run_once()
    assert w.store.released == [[1, 2, 3]]  # not only the first group: nothing waits for its lease
    assert await w.claim_as("w2") == [1, 2, 3]


async def test_a_rejected_transaction_is_recorded_as_sent_with_its_error() -> None:
    w = World(chain=FakeChain(head=1, send_outcome=SendOutcome.REJECTED))
    w.request(1)
    await w.fulfiller.run_once()
    (outboxed,) = w.store.outbox.values()
    assert outboxed.sends == [""]  # an error ("" from the fake), not None: the relay will try again
    assert w.observer.transactions == ["rejected"]
    assert w.status(1) is RequestStatus.FULFILLING


async def test_a_request_that_cannot_be_fetched_is_answered_with_a_signed_refusal() -> None:
    w = World()
    w.request(1, url="nsl://template/nosuchtemplate", filter_="")
    w.request(2, url="nsl://template/BAD", filter_="")
    await w.fulfiller.run_once()
    assert w.enclave.fetches == []
    now_ms = w.enclave.fetched_at_ms  # the enclave's clock signs the refusal
    (fulfil_1, _, fulfil_2, _) = w.chain.built[0]
    sig_1 = signed(1, ResultCode.NOT_FOUND, now_ms, "nsl://template/nosuchtemplate", "", b"")
    sig_2 = signed(2, ResultCode.FORBIDDEN, now_ms, "nsl://template/BAD", "", b"")
    assert fulfil_1.args == (1, ResultCode.NOT_FOUND, b"", now_ms, sig_1)
    assert fulfil_2.args == (2, ResultCode.FORBIDDEN, b"", now_ms, sig_2)
    assert (w.status(1), w.status(2)) == (RequestStatus.FULFILLING, RequestStatus.FULFILLING)


# OracleAnswerer ----------------------------------------------------------------------------------------


async def test_an_https_request_is_fetched_by_the_enclave_as_the_platform() -> None:
    enclave = FakeEnclave(fetched_at_ms=FETCHED_AT)
    enclave.answers[URL] = (ResultCode.SUCCESS, b"[1.5]")
    answer = await make_answerer(enclave).answer(onchain(9, URL, FILTER))
    assert enclave.fetches == [
        Fetch(9, FetchSpec(url=URL, filter=FILTER), OWNER, KEY.key_id, OWNER, None, ())
    ]
    assert (answer.request_id, answer.code, answer.result, answer.url) == (
        9,
        ResultCode.SUCCESS,
        b"[1.5]",
        URL,
    )
    assert enclave.signed == []  # the enclave's fetch signs; nothing else is signed


@pytest.mark.parametrize(
    ("url", "filter_", "code", "detail"),
    [
        ("nsl://template/UPPER", "", ResultCode.FORBIDDEN, "8-40 lowercase letters"),
        ("nsl://template/short", "", ResultCode.FORBIDDEN, "8-40 lowercase letters"),
        ("nsl://template/unknown01", "", ResultCode.NOT_FOUND, "unknown template"),
        (URL, "$" + ".a" * 600, ResultCode.FORBIDDEN, "filter must be at most 1024"),
        ("https://x.example/?k={{secret:api-token}}", "", ResultCode.FORBIDDEN, "may not reference secrets"),
    ],
)
async def test_requests_that_cannot_be_fetched_get_a_signed_refusal(
    url: str, filter_: str, code: ResultCode, detail: str
) -> None:
    enclave, clock = FakeEnclave(), FakeClock()
    clock.advance(1.5)
    answer = await make_answerer(enclave, clock).answer(onchain(3, url, filter_))
    timestamp = enclave.fetched_at_ms  # the enclave's clock
    assert enclave.fetches == []
    assert (answer.code, answer.result, answer.timestamp_ms, answer.url, answer.filter) == (
        code, b"", timestamp, url, filter_,
    )  # fmt: skip
    assert detail in answer.detail
    message = response_message(onchain(3, url, filter_), code, timestamp, b"")
    assert enclave.signed == []  # built and signed in the enclave, never through raw sign
    assert enclave.refusals == [(onchain(3, url, filter_), code)]
    assert answer.signature == fake_signature(KEY.key_id, message)
    assert answer.message() == message
    assert answer.key_id == KEY.key_id  # the key the enclave signed with


async def test_a_template_is_fetched_for_its_tenant_with_its_sealed_secrets() -> None:
    t = template()
    enclave = FakeEnclave()
    secrets = Secrets({("tenant-a", "api-token"): ("secret:api-token:v3", b"sealed-blob")})
    answerer = make_answerer(enclave, templates=Templates(t), secrets=secrets)
    answer = await answerer.answer(onchain(4, t.url, "$.bid"))
    assert secrets.reads == [("tenant-a", "api-token")]
    (fetch,) = enclave.fetches
    assert fetch == Fetch(
        4,
        t.spec_for("$.bid"),
        "tenant-a",
        KEY.key_id,
        OWNER,
        "nsl://template/pricefeed01",
        (SealedSecret("api-token", 3, b"sealed-blob"),),
    )
    assert fetch.spec.headers == (("Authorization", "Bearer {{secret:api-token}}"),)  # injected inside only
    assert answer.url == "nsl://template/pricefeed01"  # the signed URL is the one requested on chain


async def test_a_template_refuses_a_consumer_it_does_not_list() -> None:
    enclave = FakeEnclave()
    answerer = make_answerer(enclave, templates=Templates(template()))
    answer = await answerer.answer(onchain(5, template().url, "", b"\xee" * 20))
    assert answer.code is ResultCode.FORBIDDEN
    assert answer.detail == "the consumer may not use this template"
    assert enclave.fetches == []


async def test_a_template_without_a_consumer_list_serves_anyone() -> None:
    enclave = FakeEnclave()
    open_template = template(consumers=(), headers=(("Accept", "application/json"),))
    answerer = make_answerer(enclave, templates=Templates(open_template))
    answer = await answerer.answer(onchain(5, open_template.url, "", b"\xee" * 20))
    assert answer.code is ResultCode.SUCCESS
    assert [f.tenant for f in enclave.fetches] == ["tenant-a"]


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (NotFound("secret api-token not found"), "not found"),
        (PermissionDenied("not for oracle"), "not for oracle"),
    ],
)
async def test_a_template_whose_secret_cannot_be_read_is_refused(error: Exception, detail: str) -> None:
    enclave = FakeEnclave()
    secrets = Secrets({("tenant-a", "api-token"): error})
    answer = await make_answerer(enclave, templates=Templates(template()), secrets=secrets).answer(
        onchain(6, template().url, "")
    )
    assert (answer.code, answer.result) == (ResultCode.FORBIDDEN, b"")
    assert detail in answer.detail
    assert enclave.fetches == []


async def test_an_offchain_fetch_gets_a_fresh_id_and_the_tenants_secrets() -> None:
    enclave = FakeEnclave()
    enclave.random_bytes = bytes([1, 2, 3, 4, 5, 6, 7, 0xFF])
    secrets = Secrets({("tenant-a", "api-token"): ("secret:api-token:v12", b"blob")})
    answerer = make_answerer(enclave, secrets=secrets)
    t = template()
    await answerer.fetch_offchain("tenant-a", FetchSpec(url="https://ignored.example", filter="$.ask"), t)
    (fetch,) = enclave.fetches
    assert fetch.request_id == int.from_bytes(enclave.random_bytes, "little") % 2**63
    assert fetch.request_id < 2**63
    assert (fetch.spec, fetch.tenant, fetch.request_url) == (t.spec_for("$.ask"), "tenant-a", t.url)
    assert fetch.secrets == (SealedSecret("api-token", 12, b"blob"),)
    # without a template: the spec as given, no signed template URL
    await answerer.fetch_offchain("tenant-b", FetchSpec(url=URL))
    assert (enclave.fetches[1].spec, enclave.fetches[1].tenant, enclave.fetches[1].request_url) == (
        FetchSpec(url=URL), "tenant-b", None,
    )  # fmt: skip
    # both bound to the off-chain facts of their tenant: no contract accepts them
    assert [f.facts for f in enclave.fetches] == [
        OracleFacts.offchain(fetch.request_id, "tenant-a", t.url, "$.ask"),
        OracleFacts.offchain(fetch.request_id, "tenant-b", URL, ""),
    ]


# Events and stored answers ------------------------------------------------------------------------------


def test_decode_events() -> None:
    events = [
        ChainEvent(5, "0xa", CONTRACT, "OracleRequested", (11, CONSUMER, b"https://x.example", b"$.p")),
        ChainEvent(5, "0xa", CONTRACT, "OracleRequested", (12, CONSUMER, b"https://x.example")),  # short
        ChainEvent(6, "0xb", CONTRACT, "OracleFulfilled", (11,)),
        ChainEvent(6, "0xb", CONTRACT, "OracleDelivered", (11,)),
        ChainEvent(7, "0xc", CONTRACT, "CallbackFailed", (11, b"ABORT")),
        ChainEvent(7, "0xc", CONTRACT, "Transfer", (1, 2, 3)),
    ]
    new, updates = decode_events(events)
    assert [(n.request_id, n.consumer, n.asked, n.block, n.tx_hash) for n in new] == [
        (11, CONSUMER_HASH, OracleParams("https://x.example", "$.p"), 5, "0xa")
    ]
    assert updates == [
        RequestUpdate(11, ChainEventKind.FULFILLED, 6, "0xb"),
        RequestUpdate(11, ChainEventKind.DELIVERED, 6, "0xb"),
        RequestUpdate(11, ChainEventKind.CALLBACK_FAILED, 7, "0xc", "ABORT"),
    ]


async def test_a_request_has_no_answer_until_one_is_written() -> None:
    w = World()
    w.request(1)
    row = await w.store.get(SERVICE, CONTRACT, 1)
    assert row is not None
    assert (row.asked, row.answer) == (OracleParams(URL, FILTER), None)  # not answered yet


async def test_an_offchain_fetch_sends_the_callers_api_key_to_the_enclave() -> None:
    """A tenant enforcing enclave-checked credentials has its secrets used only with its own key."""
    enclave = FakeEnclave()
    credential = ApiKeyCredential("nsl_abc_" + "x" * 75, "tenant-a", "key_1", ("oracle:request",))
    await make_answerer(enclave).fetch_offchain("tenant-a", FetchSpec(url=URL), None, credential)
    assert enclave.presented == [credential]
    await make_answerer(enclave).answer(onchain(7, URL, ""))  # on-chain: the worker, no caller
    assert enclave.presented == [credential, None]
