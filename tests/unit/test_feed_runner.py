"""Feed rounds (``services.feeds.FeedRunner``) over fakes: each round computed and signed by the enclave's
``feed_round`` (bound to the network, the contract and the sources digest), published on chain on the first
round, a deviation or the heartbeat; what each round reports. The host never raw-signs.

The chain, enclave and clock are the in-memory fakes of ``tests.unit.chain.fakes``; the last published
round is what the fake chain answers to ``latestRoundData``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from neo_service_layer.enclave.wire.feeds import FeedRoundFacts, round_message
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.kernel.chain.ports.chain import ContractCall, SendOutcome, TransactionState
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.feeds.use_cases import FeedRunner, script_hash_le
from neo_service_layer.services.oracle.api import OracleKey
from tests.unit.chain.fakes import FakeChain, FakeClock, FakeEnclave, fake_signature

CONTRACT = "0x" + "cd" * 19 + "01"
KEY = OracleKey("oracle-key", b"\x03" * 33)
PAIR = "NEO/USD"
DESCRIPTION = "NEO / US Dollar"
NOW_S = int(FakeClock().now().timestamp())
NOW_MS = NOW_S * 1000
E8 = 10**8


def url(name: str) -> str:
    return f"https://{name}.example/ticker"


def feed(names: str = "abc", quorum: int = 2, pair: str = PAIR) -> FeedDefinition:
    return FeedDefinition.from_dict(
        {
            "pair": pair,
            "description": DESCRIPTION,
            "sources": [{"name": n, "url": url(n), "path": "$.price"} for n in names],
            "quorum": quorum,
            "deviation": "0.005",
            "max_outlier_distance": "0.05",
            "heartbeat_seconds": 3600,
            "decimals": 8,
        }
    )


class Observer:
    def __init__(self) -> None:
        self.rounds: list[tuple[str, str]] = []

    def feed_round(self, pair: str, outcome: str) -> None:
        self.rounds.append((pair, outcome))


class World:
    def __init__(self, *feeds: FeedDefinition) -> None:
        self.chain = FakeChain(head=10)
        self.enclave = FakeEnclave()
        self.clock = FakeClock()
        self.observer = Observer()
        self.runner = FeedRunner(
            self.chain,
            lambda: self.enclave,  # type: ignore[arg-type,return-value]
            KEY,
            self.clock,
            self.observer,
            contract=CONTRACT,
            feeds=feeds or (feed(),),
        )
        self.published(0, 0, 0, 0)

    def prices(self, **values: str | tuple[ResultCode, bytes]) -> None:
        for name, value in values.items():
            self.enclave.answers[url(name)] = (
                value if isinstance(value, tuple) else (ResultCode.SUCCESS, value.encode())
            )

    def published(self, round_id: int, answer: int, started_ms: int, updated_ms: int) -> None:
        self.chain.read_results["latestRoundData"] = ((round_id, answer, started_ms, updated_ms),)

    def submits(self) -> list[tuple[Any, ...]]:
        return [c.args for calls in self.chain.built for c in calls if c.method == "submit"]

    async def round(self, definition: FeedDefinition | None = None) -> Any:
        return await self.runner.run_round(definition or self.runner.feeds[0])


def facts_for(round_id: int, started_ms: int) -> FeedRoundFacts:
    """What a round is bound to: the fake chain's magic (42), the feed contract (NeoVM byte order)."""
    return FeedRoundFacts(42, script_hash_le(CONTRACT), PAIR, round_id, started_ms, 8, DESCRIPTION)


def signature_for(round_id: int, answer: int, started_ms: int) -> bytes:
    message = round_message(facts_for(round_id, started_ms), feed().sources_digest(), answer)
    return fake_signature(KEY.key_id, message)


async def test_the_first_round_publishes_the_median_the_enclave_signed() -> None:
    w = World()
    w.prices(a="100.0", b="100.2", c="99.9")
    report = await w.round()

    assert (report.outcome, report.round_id) == ("published_first", 1)
    assert report.round is not None
    assert (report.round.answer, report.round.used) == (Decimal("100.00000000"), ("a", "b", "c"))
    assert w.chain.reads == [ContractCall(CONTRACT, "latestRoundData", (PAIR,))]
    submit = (PAIR, 1, 100 * E8, NOW_MS, signature_for(1, 100 * E8, NOW_MS))
    assert w.chain.dry_runs == [[ContractCall(CONTRACT, "submit", submit)]]
    assert w.chain.built == [[ContractCall(CONTRACT, "submit", submit)]]
    assert len(w.chain.sent) == 1
    assert report.tx_hash is not None
    assert w.enclave.signed == []  # nothing is raw-signed: the enclave's feed_round built the message
    assert w.observer.rounds == [(PAIR, "published_first")]


async def test_the_enclave_gets_the_sources_and_the_round_facts_and_nothing_to_sign() -> None:
    w = World()
    w.published(4, 100 * E8, NOW_MS - 60_000, NOW_MS - 60_000)
    w.prices(a="1", b="1", c="1")
    await w.round()
    (facts, sources, key_id, key_tenant) = w.enclave.rounds[0]
    assert facts == facts_for(5, NOW_MS)  # magic, contract, pair, next round, start, decimals, description
    assert sources == feed().source_set  # every source with its path, quorum and outlier distance
    assert sources.digest() == feed().sources_digest()
    assert (key_id, key_tenant) == (KEY.key_id, PLATFORM_KEY_OWNER)
    assert (w.enclave.signed, w.enclave.fetches) == ([], [])  # no raw sign, no host-chosen fetch


async def test_a_deviation_beyond_the_threshold_publishes_the_next_round() -> None:
    w = World()
    w.published(4, 100 * E8, NOW_MS - 60_000, NOW_MS - 60_000)
    w.prices(a="101", b="101", c="101")  # 1 % above the last answer
    report = await w.round()
    assert (report.outcome, report.round_id) == ("published_deviation", 5)
    assert w.submits() == [(PAIR, 5, 101 * E8, NOW_MS, signature_for(5, 101 * E8, NOW_MS))]
    assert w.observer.rounds == [(PAIR, "published_deviation")]


async def test_a_move_within_the_threshold_changes_nothing() -> None:
    w = World()
    w.published(4, 100 * E8, NOW_MS - 60_000, NOW_MS - 60_000)
    w.prices(a="100.5", b="100.5", c="100.5")  # exactly 0.5 %: not beyond
    report = await w.round()
    assert (report.outcome, report.round_id, report.tx_hash) == ("unchanged", 4, None)
    assert (w.enclave.signed, w.chain.dry_runs, w.chain.sent) == ([], [], [])
    assert w.observer.rounds == [(PAIR, "unchanged")]


@pytest.mark.parametrize(("age", "outcome"), [(3599, "unchanged"), (3600, "published_heartbeat")])
async def test_the_heartbeat_republishes_an_unchanged_answer(age: int, outcome: str) -> None:
    w = World()
    w.published(4, 100 * E8, (NOW_S - age) * 1000, (NOW_S - age) * 1000)
    w.prices(a="100", b="100", c="100")
    report = await w.round()
    assert report.outcome == outcome
    expected = [(PAIR, 5, 100 * E8, NOW_MS, signature_for(5, 100 * E8, NOW_MS))]
    assert w.submits() == ([] if outcome == "unchanged" else expected)


async def test_a_round_never_starts_before_the_last_one() -> None:
    w = World()
    later = NOW_MS + 5_000  # another writer's clock ran ahead
    w.published(4, 100 * E8, later, later)
    w.prices(a="110", b="110", c="110")
    await w.round()
    assert w.submits()[0][3] == later + 1


async def test_quorum_lost_publishes_nothing_and_is_recorded() -> None:
    w = World()
    w.prices(a="100", b=(ResultCode.NOT_FOUND, b""), c="no number")
    report = await w.round()
    assert (report.outcome, report.round) == ("quorum_lost", None)
    assert report.detail == "1 of 3 sources answered; quorum is 2"
    assert (w.enclave.signed, w.chain.dry_runs, w.chain.sent) == ([], [], [])
    assert w.observer.rounds == [(PAIR, "quorum_lost")]


async def test_quorum_lost_when_the_answers_disagree() -> None:
    w = World()
    w.prices(a="100", b="130", c=(ResultCode.TIMEOUT, b""))
    report = await w.round()
    assert report.outcome == "quorum_lost"
    assert "agree within the outlier distance" in report.detail
    assert w.chain.sent == []
    assert w.observer.rounds == [(PAIR, "quorum_lost")]


async def test_an_outlier_is_dropped_and_the_sources_used_are_reported() -> None:
    w = World()
    w.prices(a="100", b="100.4", c="150")
    report = await w.round()
    assert report.round is not None
    assert (report.round.used, report.round.outliers, report.round.missing) == (("a", "b"), ("c",), ())
    assert report.round.answer == Decimal("100.20000000")  # the median of a and b only
    assert w.submits()[0][2] == 10_020_000_000


async def test_sources_that_fail_or_answer_no_number_count_as_missing() -> None:
    w = World(feed("abcdefg"))
    w.prices(
        a="100",
        b='"100.1"',  # a number in a JSON string is a number
        c=(ResultCode.UPSTREAM_ERROR, b""),
        d=(ResultCode.TIMEOUT, b""),
        e='"abc"',
        f="[100, 101]",  # several values
        g="NaN",
    )
    report = await w.round()
    assert report.outcome == "published_first"
    assert report.round is not None
    assert (report.round.used, report.round.missing) == (("a", "b"), ("c", "d", "e", "f", "g"))
    assert report.round.answer == Decimal("100.05000000")


async def test_an_unreachable_enclave_fails_the_round_and_is_recorded() -> None:
    w = World()
    w.prices(a="100", b="100", c="100")
    w.enclave.errors[url("b")] = EnclaveUnavailable("socket down")
    with pytest.raises(EnclaveUnavailable):
        await w.round()
    assert w.chain.sent == []
    assert w.observer.rounds == [(PAIR, "error")]


async def test_no_new_update_while_ours_is_in_flight() -> None:
    w = World()
    w.chain.valid_for = 5  # valid until block 15
    w.prices(a="100", b="100", c="100")
    first = await w.round()
    assert first.outcome == "published_first"
    w.prices(a="120", b="120", c="120")
    assert (await w.round()).outcome == "in_flight"
    w.chain.head = 14
    assert (await w.round()).outcome == "in_flight"
    assert len(w.chain.sent) == 1
    # included: the chain has the new round, and the runner carries on from it
    assert first.tx_hash is not None
    w.chain.included[first.tx_hash] = TransactionState(12, True)
    w.published(1, 100 * E8, NOW_MS, NOW_MS)
    report = await w.round()
    assert (report.outcome, report.round_id) == ("published_deviation", 2)
    assert w.observer.rounds == [
        (PAIR, "published_first"), (PAIR, "in_flight"), (PAIR, "in_flight"), (PAIR, "published_deviation"),
    ]  # fmt: skip


async def test_an_update_that_expired_unincluded_is_replaced() -> None:
    w = World()
    w.prices(a="100", b="100", c="100")
    await w.round()
    w.chain.head = 15  # validUntilBlock reached and not included: it can never be
    report = await w.round()
    assert (report.outcome, report.round_id) == ("published_first", 1)
    assert len(w.chain.sent) == 2


async def test_a_faulting_update_is_rejected_and_not_sent() -> None:
    w = World()
    w.chain.fault_methods["submit"] = "round 1 already published"
    w.prices(a="100", b="100", c="100")
    report = await w.round()
    assert (report.outcome, report.round_id, report.detail) == ("rejected", 1, "round 1 already published")
    assert (w.chain.built, w.chain.sent) == ([], [])
    assert w.observer.rounds == [(PAIR, "rejected")]
    await w.round()  # not in flight: the next round tries again
    assert len(w.chain.dry_runs) == 2


async def test_an_update_the_node_rejects_is_not_in_flight() -> None:
    w = World()
    w.chain.send_outcome = SendOutcome.REJECTED
    w.prices(a="100", b="100", c="100")
    report = await w.round()
    assert report.outcome == "rejected"
    assert report.tx_hash is not None
    assert (await w.round()).outcome == "rejected"  # built again, not waited for
    assert len(w.chain.sent) == 2


async def test_a_zero_answer_is_never_submitted() -> None:
    w = World()
    w.prices(a="0", b="0", c="0")
    report = await w.round()
    assert (report.outcome, report.detail) == (
        "rejected",
        "the contract accepts positive answers below 2^127 only",
    )
    assert (w.enclave.signed, w.chain.dry_runs) == ([], [])


async def test_run_all_runs_every_feed_in_order() -> None:
    gas = feed(pair="GAS/USD")
    w = World(feed(), gas)
    w.prices(a="100", b="100", c="100")
    reports = await w.runner.run_all()
    assert [(r.pair, r.outcome) for r in reports] == [
        (PAIR, "published_first"),
        ("GAS/USD", "published_first"),
    ]
    assert [c.args[0] for c in w.chain.reads] == [PAIR, "GAS/USD"]
    assert w.observer.rounds == [(PAIR, "published_first"), ("GAS/USD", "published_first")]
