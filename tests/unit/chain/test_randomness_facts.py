"""The host passes chain facts, never messages: what the fulfiller and the off-chain answer bind to."""

from __future__ import annotations

from neo_service_layer.services.randomness import rules
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.use_cases import (
    RandomnessFulfiller,
    RandomnessKeys,
    RandomnessStore,
)
from tests.unit.chain.fakes import (
    CONSUMER,
    CONTRACT,
    FakeChain,
    FakeClock,
    FakeEnclave,
    RecordingObserver,
    requested,
)

KEYS = RandomnessKeys("ecdsa", b"\x02" * 33, "bls", b"\xa0" * 48)


async def test_the_fulfiller_binds_each_answer_to_magic_contract_and_consumer(store: RandomnessStore) -> None:
    new, _ = randomness.decode_events([requested(1, i) for i in range(3)])
    await store.apply_block("c", randomness.SERVICE, CONTRACT, 1, None, new, [], FakeClock().now())
    chain, clock, enclave = FakeChain(head=1), FakeClock(), FakeEnclave()
    fulfiller = RandomnessFulfiller(
        chain,
        store,
        lambda: enclave,
        clock,
        RecordingObserver(),  # type: ignore[arg-type]
        contract=CONTRACT,
        keys=KEYS,
        worker_id="w1",
    )
    assert await fulfiller.run_once() == 3
    assert [f.request_id for f in enclave.fulfilled] == [0, 1, 2]
    for facts, n in zip(enclave.fulfilled, new, strict=True):
        assert facts.magic == chain.magic
        assert facts.contract == bytes.fromhex(CONTRACT[2:])[::-1]  # as NeoVM stores it
        assert facts.consumer == CONSUMER  # the event's bytes, as stored
        assert facts.seed == n.asked.seed
    assert enclave.signed == []  # no raw signature was asked for


async def test_offchain_answers_are_bound_to_offchain_facts_and_the_tenant() -> None:
    enclave = FakeEnclave()
    answer = await randomness.generate_offchain(enclave, KEYS, "acme", 3, b"caller seed")
    (facts,) = enclave.fulfilled
    assert (facts.magic, facts.contract) == (rules.OFFCHAIN_MAGIC, rules.OFFCHAIN_CONTRACT)
    assert facts.consumer == rules.offchain_consumer("acme") == answer.consumer
    assert (answer.magic, answer.contract) == (0, bytes(20))
    assert facts.seed == answer.seed
    assert answer.words == rules.derive_words(answer.output, 3)
    other = await randomness.generate_offchain(FakeEnclave(), KEYS, "globex", 3, b"caller seed")
    assert other.consumer != answer.consumer
