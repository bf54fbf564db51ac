"""Watcher cursor, idempotency, leases, fulfilment batching, dry-run faults and the outbox relay.

A fake chain (records every call, faults on demand) and a fake enclave; the store is the real SQL one
on a SQLite file.
"""

from __future__ import annotations

from datetime import timedelta

from neo_service_layer.kernel.chain.ports.chain import SendOutcome, TransactionState
from neo_service_layer.kernel.chain.rules import OutboxAction, RequestStatus
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.use_cases import (
    RandomnessFulfiller,
    RandomnessKeys,
    RandomnessStore,
)
from tests.unit.chain.fakes import (
    CONTRACT,
    FakeChain,
    FakeClock,
    FakeEnclave,
    RecordingObserver,
    delivered,
    fulfilled,
    requested,
)

KEYS = RandomnessKeys("ecdsa", b"\x02" * 33, "bls", b"\xa0" * 48)
SERVICE = randomness.SERVICE


def watcher(
    chain: FakeChain,
    store: RandomnessStore,
    observer: RecordingObserver,
    *,
    start: int = 0,
    max_blocks: int = 100,
) -> ChainWatcher:
    return ChainWatcher(
        chain,
        store,
        FakeClock(),
        observer,
        service=SERVICE,
        contract=CONTRACT,
        decode=randomness.decode_events,
        start_block=start,
        max_blocks=max_blocks,
    )


def fulfiller(
    chain: FakeChain,
    store: RandomnessStore,
    clock: FakeClock,
    worker: str = "w1",
    per_transaction: int = 20,
    lease: float = 30.0,
) -> RandomnessFulfiller:
    enclave = FakeEnclave()
    return RandomnessFulfiller(
        chain,
        store,
        lambda: enclave,
        clock,
        RecordingObserver(),  # type: ignore[arg-type,return-value]
        contract=CONTRACT,
        keys=KEYS,
        worker_id=worker,
        lease_seconds=lease,
        per_transaction=per_transaction,
    )


async def statuses(store: RandomnessStore) -> dict[RequestStatus, int]:
    return await store.count_by_status(SERVICE, CONTRACT)


# Watcher -------------------------------------------------------------------------------------


async def test_watcher_records_each_request_once_and_moves_the_cursor(store: RandomnessStore) -> None:
    chain = FakeChain(head=5, blocks={2: [requested(2, 0), requested(2, 1)], 4: [requested(4, 2)]})
    observer = RecordingObserver()
    result = await watcher(chain, store, observer).poll()
    assert (result.processed, result.cursor) == (6, 5)
    assert chain.event_reads == [0, 1, 2, 3, 4, 5]
    assert await statuses(store) == {RequestStatus.SEEN: 3}
    assert observer.outcomes == ["seen"] * 3
    assert observer.behind == [0]
    row = await store.get(SERVICE, CONTRACT, 2)
    assert row is not None
    assert row.request_block == 4
    assert row.consumer == "0x" + bytes(range(20))[::-1].hex()
    # nothing new: no block is read again
    await watcher(chain, store, observer).poll()
    assert chain.event_reads == [0, 1, 2, 3, 4, 5]


async def test_watcher_resumes_from_the_durable_cursor_after_a_restart(store: RandomnessStore) -> None:
    chain = FakeChain(head=3, blocks={1: [requested(1, 0)]})
    await watcher(chain, store, RecordingObserver()).poll()
    # "downtime": blocks 4..9 are produced while no watcher runs
    chain.head = 9
    chain.blocks[6] = [requested(6, 1)]
    chain.blocks[9] = [requested(9, 2)]
    chain.event_reads.clear()
    fresh = watcher(chain, store, RecordingObserver(), start=0)  # a new process: only the DB remembers
    await fresh.poll()
    assert chain.event_reads == [4, 5, 6, 7, 8, 9]
    assert await statuses(store) == {RequestStatus.SEEN: 3}


async def test_watcher_catches_up_in_bounded_steps(store: RandomnessStore) -> None:
    chain = FakeChain(head=10, blocks={10: [requested(10, 0)]})
    observer = RecordingObserver()
    w = watcher(chain, store, observer, max_blocks=4)
    assert (await w.poll()).cursor == 3
    assert observer.behind[-1] == 7
    await w.poll()
    assert (await w.poll()).cursor == 10
    assert observer.behind[-1] == 0
    assert await statuses(store) == {RequestStatus.SEEN: 1}


async def test_reapplying_a_block_changes_nothing(store: RandomnessStore) -> None:
    """Two watchers (or a crash after the events but before the cursor) apply one block twice."""
    new, updates = randomness.decode_events([requested(3, 7), requested(3, 8)])
    clock = FakeClock()
    first = await store.apply_block("c", SERVICE, CONTRACT, 3, None, new, updates, clock.now())
    again = await store.apply_block("c", SERVICE, CONTRACT, 3, None, new, updates, clock.now())
    assert [t.request_id for t in first] == [7, 8]
    assert again == []
    assert await store.cursor("c") == 3
    # an older block applied late never moves the cursor back
    await store.apply_block("c", SERVICE, CONTRACT, 2, None, [], [], clock.now())
    assert await store.cursor("c") == 3


async def test_chain_events_move_requests_and_report_latency(store: RandomnessStore) -> None:
    chain = FakeChain(head=2, blocks={2: [requested(2, 0)]})
    observer = RecordingObserver()
    w = watcher(chain, store, observer)
    await w.poll()
    chain.head = 3
    chain.blocks[3] = [fulfilled(3, 0, "0xf1"), delivered(3, 0, "0xf1")]
    await w.poll()
    row = await store.get(SERVICE, CONTRACT, 0)
    assert row is not None
    assert row.status is RequestStatus.DELIVERED
    assert (row.fulfilled_block, row.fulfilled_tx, row.delivered_block) == (3, "0xf1", 3)
    assert observer.outcomes == ["seen", "fulfilled", "delivered"]
    assert observer.latencies == [(1, 1.0)]


# Fulfiller -----------------------------------------------------------------------------------


async def seed_requests(store: RandomnessStore, ids: range, block: int = 1) -> None:
    new, _ = randomness.decode_events([requested(block, i) for i in ids])
    await store.apply_block("c", SERVICE, CONTRACT, block, None, new, [], FakeClock().now())


async def test_a_burst_is_answered_in_a_few_batched_transactions(store: RandomnessStore) -> None:
    await seed_requests(store, range(45))
    chain, clock = FakeChain(head=1), FakeClock()
    assert await fulfiller(chain, store, clock).run_once() == 45
    assert [len(calls) for calls in chain.built] == [40, 40, 10]  # fulfill + deliver per request
    assert chain.built[0][0].method == "fulfill"
    assert chain.built[0][1].method == "deliver"
    assert len(chain.sent) == 3
    assert await statuses(store) == {RequestStatus.FULFILLING: 45}
    assert len(await store.pending_outbox(SERVICE)) == 3
    assert await fulfiller(chain, store, clock).run_once() == 0  # nothing left to claim


async def test_two_workers_claim_disjoint_requests_and_a_lease_expires(store: RandomnessStore) -> None:
    await seed_requests(store, range(6))
    clock = FakeClock()
    until = clock.now() + timedelta(seconds=30)
    first = await store.claim(SERVICE, CONTRACT, "w1", clock.now(), until, 4)
    second = await store.claim(SERVICE, CONTRACT, "w2", clock.now(), until, 4)
    assert [r.request_id for r in first] == [0, 1, 2, 3]
    assert [r.request_id for r in second] == [4, 5]
    assert await store.claim(SERVICE, CONTRACT, "w3", clock.now(), until, 4) == []
    clock.advance(31)  # w1 died: its lease runs out, w3 takes over
    taken = await store.claim(SERVICE, CONTRACT, "w3", clock.now(), clock.now() + timedelta(seconds=30), 10)
    assert [r.request_id for r in taken] == [0, 1, 2, 3, 4, 5]


async def test_a_worker_that_lost_its_lease_never_sends(store: RandomnessStore) -> None:
    await seed_requests(store, range(2))
    clock = FakeClock()
    claimed = await store.claim(
        SERVICE, CONTRACT, "slow", clock.now(), clock.now() + timedelta(seconds=1), 10
    )
    clock.advance(2)
    await store.claim(SERVICE, CONTRACT, "fast", clock.now(), clock.now() + timedelta(seconds=30), 10)
    chain = FakeChain(head=1)
    slow = fulfiller(chain, store, clock, worker="slow")
    proved = [randomness.Proved(r, b"o" * 32, b"p" * 96, b"s" * 64) for r in claimed]
    await slow._send_group(proved)
    assert chain.sent == []  # built, but the outbox refused it: dropped unsent
    assert await statuses(store) == {RequestStatus.SEEN: 2}
    assert await store.pending_outbox(SERVICE) == []


async def test_a_faulting_fulfilment_is_never_sent_and_marked_failed(store: RandomnessStore) -> None:
    await seed_requests(store, range(3))
    chain, clock = FakeChain(head=1, fault_fulfill={1: "invalid signature"}), FakeClock()
    await fulfiller(chain, store, clock).run_once()
    failed = await store.get(SERVICE, CONTRACT, 1)
    assert failed is not None
    assert failed.status is RequestStatus.FAILED
    assert failed.failure_reason == "invalid signature"
    sent_ids = {c.args[0] for calls in chain.built for c in calls}
    assert sent_ids == {0, 2}  # the others went out one by one after the batch's dry-run faulted
    assert await statuses(store) == {RequestStatus.FULFILLING: 2, RequestStatus.FAILED: 1}


async def test_an_aborting_callback_gets_fulfil_and_mark_failed(store: RandomnessStore) -> None:
    await seed_requests(store, range(1))
    chain, clock = FakeChain(head=1, fault_deliver={0: "ABORTMSG is executed"}), FakeClock()
    await fulfiller(chain, store, clock).run_once()
    assert [c.method for c in chain.built[0]] == ["fulfill", "markCallbackFailed"]
    row = await store.get(SERVICE, CONTRACT, 0)
    assert row is not None
    assert row.with_delivery is False
    assert row.callback_failure == "callback faults: ABORTMSG is executed"


async def test_without_ownership_an_aborting_callback_gets_fulfil_alone(store: RandomnessStore) -> None:
    await seed_requests(store, range(1))
    chain = FakeChain(head=1, fault_deliver={0: "ABORT"}, fault_mark=True)
    await fulfiller(chain, store, FakeClock()).run_once()
    assert [[c.method for c in calls] for calls in chain.built] == [["fulfill"]]


# Outbox relay --------------------------------------------------------------------------------


def relay(chain: FakeChain, store: RandomnessStore, clock: FakeClock) -> OutboxRelay:
    return OutboxRelay(
        chain, store, clock, RecordingObserver(), service=SERVICE, resend_after=timedelta(seconds=2)
    )


async def test_relay_sends_what_a_crashed_worker_wrote_but_never_sent(store: RandomnessStore) -> None:
    await seed_requests(store, range(1))
    chain, clock = FakeChain(head=1), FakeClock()
    f = fulfiller(chain, store, clock)
    claimed = await store.claim(SERVICE, CONTRACT, "w1", clock.now(), clock.now() + timedelta(seconds=30), 1)
    proved = randomness.Proved(claimed[0], b"o" * 32, b"p" * 96, b"s" * 64)
    tx = await chain.build_transaction([f._fulfill(proved)], await chain.dry_run([f._fulfill(proved)]))
    assert await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), tx, [f._fulfilment(proved, True)])
    # ... and the worker dies here
    done = await relay(chain, store, clock).run_once()
    assert done == {OutboxAction.RESEND: 1}
    assert chain.sent == [tx.raw]
    assert await relay(chain, store, clock).run_once() == {OutboxAction.WAIT: 1}


async def test_relay_rebuilds_only_after_valid_until_block(store: RandomnessStore) -> None:
    await seed_requests(store, range(2))
    chain, clock = FakeChain(head=1, valid_for=3), FakeClock()
    await fulfiller(chain, store, clock).run_once()
    (entry,) = await store.pending_outbox(SERVICE)
    assert entry.valid_until_block == 4
    clock.advance(3)
    chain.head = 3  # still includable in block 4: resend the same bytes
    assert await relay(chain, store, clock).run_once() == {OutboxAction.RESEND: 1}
    assert chain.sent[-1] == entry.raw
    chain.head = 4
    assert await relay(chain, store, clock).run_once() == {OutboxAction.EXPIRE: 1}
    assert await statuses(store) == {RequestStatus.SEEN: 2}
    await fulfiller(chain, store, clock).run_once()  # claimed again: a new transaction
    assert len(chain.built) == 2
    row = await store.get(SERVICE, CONTRACT, 0)
    assert row is not None
    assert row.attempts == 2
    assert row.tx_hash != entry.tx_hash


async def test_relay_marks_included_and_faulted_transactions(store: RandomnessStore) -> None:
    await seed_requests(store, range(2))
    chain, clock = FakeChain(head=1), FakeClock()
    await fulfiller(chain, store, clock, per_transaction=1).run_once()
    first, second = await store.pending_outbox(SERVICE)
    chain.included[first.tx_hash] = TransactionState(2, True)
    chain.included[second.tx_hash] = TransactionState(2, False, "ASSERT is executed")
    clock.advance(3)
    chain.head = 2
    assert await relay(chain, store, clock).run_once() == {OutboxAction.DONE: 1, OutboxAction.RETRY: 1}
    assert await store.pending_outbox(SERVICE) == []
    assert await statuses(store) == {RequestStatus.FULFILLING: 1, RequestStatus.SEEN: 1}


async def test_known_transactions_count_as_sent(store: RandomnessStore) -> None:
    await seed_requests(store, range(1))
    chain = FakeChain(head=1, send_outcome=SendOutcome.KNOWN)
    await fulfiller(chain, store, FakeClock()).run_once()
    (entry,) = await store.pending_outbox(SERVICE)
    assert entry.send_count == 1
