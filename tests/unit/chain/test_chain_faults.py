"""A consumer whose callback halts in the dry-run but FAULTs in the real block cannot make other
consumers' requests fail or be retried forever.

Threat-table row: a consumer contract / cannot make other consumers' requests fail or be retried
forever. A request whose transaction faulted on chain is never batched again; it is retried alone, then
without its callback, then marked failed. Fakes only: the recording chain (``fault_in_block``: halts in
dry-runs, FAULTs when mined) and the in-memory store with the SQL store's rules; the SQL store's count
itself on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment, OutboxAction, RequestStatus
from neo_service_layer.kernel.chain.use_cases.callback_delivery import CALLBACK_FAULTED_ON_CHAIN
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult
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
    MemoryRequestStore,
    RecordingObserver,
    requested,
)

KEYS = RandomnessKeys("ecdsa", b"\x02" * 33, "bls", b"\xa0" * 48)
SERVICE = randomness.SERVICE
BAD = 2

Store = MemoryRequestStore[RandomnessParams, RandomnessResult]


class World:
    def __init__(self, requests: int = 4, per_transaction: int = 4) -> None:
        self.chain = FakeChain(head=1)
        self.store = Store()
        self.clock = FakeClock()
        self.observer = RecordingObserver()
        new, _ = randomness.decode_events([requested(1, i) for i in range(requests)])
        self.store.add(SERVICE, CONTRACT, new)
        enclave = FakeEnclave()
        self.fulfiller = RandomnessFulfiller(
            self.chain,
            self.store,  # type: ignore[arg-type]
            lambda: enclave,
            self.clock,
            self.observer,
            contract=CONTRACT,
            keys=KEYS,
            worker_id="w1",
            per_transaction=per_transaction,
        )
        self.relay = OutboxRelay(
            self.chain, self.store, self.clock, self.observer, service=SERVICE, resend_after=timedelta(1)
        )

    async def attempt(self) -> dict[OutboxAction, int]:
        """Claim and send what is waiting, mine a block, and let the relay see what it did."""
        built = len(self.chain.built)
        await self.fulfiller.run_once()
        self.sent = self.chain.built[built:]
        self.chain.mine()
        self.clock.advance(60)  # the leases ran out
        return await self.relay.run_once()

    def row(self, request_id: int) -> randomness.RandomnessRequest:
        return self.store.rows[(SERVICE, CONTRACT, request_id)]

    def groups(self) -> list[list[tuple[str, int]]]:
        """The transactions of the last attempt as (method, request id) lists."""
        return [[(c.method, int(c.args[0])) for c in calls] for calls in self.sent]


async def test_a_group_faulting_on_chain_is_split_and_the_bad_callback_is_dropped() -> None:
    w = World()
    w.chain.fault_in_block = {BAD: {"deliver"}}

    assert await w.attempt() == {OutboxAction.RETRY: 1}  # one group of four: FAULTed in the block
    assert len(w.groups()) == 1
    assert [w.row(i).chain_faults for i in range(4)] == [1, 1, 1, 1]
    assert w.store.statuses() == dict.fromkeys(range(4), RequestStatus.SEEN)

    # every request of the faulted group is sent alone, with its callback: the others get through
    assert await w.attempt() == {OutboxAction.DONE: 3, OutboxAction.RETRY: 1}
    assert w.groups() == [[("fulfill", i), ("deliver", i)] for i in range(4)]
    assert [w.row(i).status for i in range(4)] == [
        RequestStatus.FULFILLING, RequestStatus.FULFILLING, RequestStatus.SEEN, RequestStatus.FULFILLING,
    ]  # fmt: skip
    assert w.row(BAD).chain_faults == 2

    # faulted alone with deliver: fulfilled without the callback, recorded as failed on chain
    assert await w.attempt() == {OutboxAction.DONE: 1}
    assert w.groups() == [[("fulfill", BAD), ("markCallbackFailed", BAD)]]
    assert w.sent[0][1].args[1] == CALLBACK_FAULTED_ON_CHAIN
    assert w.row(BAD).callback_failure == CALLBACK_FAULTED_ON_CHAIN
    assert w.row(BAD).with_delivery is False
    assert w.row(BAD).status is RequestStatus.FULFILLING
    assert await w.attempt() == {}  # nothing left: never retried again


async def test_a_fulfilment_that_faults_on_chain_even_alone_is_marked_failed() -> None:
    w = World()
    w.chain.fault_in_block = {BAD: {"fulfill"}}
    w.chain.fault_mark = True  # markCallbackFailed faults in dry-runs: fulfill alone is the last resort

    await w.attempt()  # the group faults
    await w.attempt()  # alone with deliver: faults again
    assert w.row(BAD).chain_faults == 2
    assert await w.attempt() == {OutboxAction.RETRY: 1}  # without callback: fulfill alone, faults
    assert w.groups() == [[("fulfill", BAD)]]
    assert w.row(BAD).chain_faults == 3

    assert await w.attempt() == {}  # nothing is sent any more: marked failed with a reason
    assert w.groups() == []
    assert w.row(BAD).status is RequestStatus.FAILED
    assert w.row(BAD).failure_reason == "fulfilment faulted on chain (3 times)"
    assert w.store.failed == [(BAD, "fulfilment faulted on chain (3 times)")]
    assert [w.row(i).status for i in (0, 1, 3)] == [RequestStatus.FULFILLING] * 3
    assert "failed" in w.observer.outcomes


async def test_requests_that_faulted_are_never_batched_with_new_ones() -> None:
    w = World(requests=4, per_transaction=3)
    w.chain.fault_in_block = {BAD: {"deliver"}}
    await w.attempt()  # [0, 1, 2] faults together, [3] gets through
    assert [w.row(i).chain_faults for i in range(4)] == [1, 1, 1, 0]
    new, _ = randomness.decode_events([requested(2, i) for i in range(10, 13)])
    w.store.add(SERVICE, CONTRACT, new)

    await w.attempt()
    batched = [g for g in w.groups() if len(g) > 2]
    assert batched == [[("fulfill", 10), ("deliver", 10), ("fulfill", 11), ("deliver", 11),
                        ("fulfill", 12), ("deliver", 12)]]  # fmt: skip
    alone = sorted(g[0][1] for g in w.groups() if len(g) == 2)
    assert alone == [0, 1, 2]


async def test_an_expired_transaction_is_not_a_fault_and_stays_batched() -> None:
    w = World(requests=3, per_transaction=3)
    await w.fulfiller.run_once()
    w.chain.head += w.chain.valid_for  # never included: past its validUntilBlock
    w.clock.advance(60)
    assert await w.relay.run_once() == {OutboxAction.EXPIRE: 1}
    assert [w.row(i).chain_faults for i in range(3)] == [0, 0, 0]
    assert w.store.statuses() == dict.fromkeys(range(3), RequestStatus.SEEN)

    built = len(w.chain.built)
    await w.fulfiller.run_once()
    assert [len(calls) for calls in w.chain.built[built:]] == [6]  # still one batched transaction


async def test_the_sql_store_counts_faulted_transactions_and_not_expired_ones(store: RandomnessStore) -> None:
    clock = FakeClock()
    new, _ = randomness.decode_events([requested(1, i) for i in range(2)])
    await store.apply_block("c", SERVICE, CONTRACT, 1, None, new, [], clock.now())

    async def written(number: int) -> str:
        now = clock.now()
        await store.claim(SERVICE, CONTRACT, "w1", now, now + timedelta(seconds=30), 2)
        tx = SignedTransaction(f"0x{number:064x}", b"raw%d" % number, 100, 1, 1)
        answers = [Fulfilment(i, RandomnessResult(b"o" * 32, b"p" * 96), True) for i in range(2)]
        assert await store.write_outbox(SERVICE, CONTRACT, "w1", now, tx, answers)
        return tx.tx_hash

    async def faults() -> list[int]:
        rows = [await store.get(SERVICE, CONTRACT, i) for i in range(2)]
        return [r.chain_faults for r in rows if r is not None]

    assert await faults() == [0, 0]
    assert await store.outbox_retry(await written(1), "expired", clock.now()) == 2
    assert await faults() == [0, 0]
    assert await store.outbox_retry(await written(2), "faulted", clock.now()) == 2
    assert await faults() == [1, 1]
    assert await store.outbox_retry(await written(3), "faulted", clock.now()) == 2
    assert await faults() == [2, 2]
    claimed = await store.claim(SERVICE, CONTRACT, "w1", clock.now(), clock.now() + timedelta(seconds=30), 2)
    assert [r.chain_faults for r in claimed] == [2, 2]  # what the fulfillers see
