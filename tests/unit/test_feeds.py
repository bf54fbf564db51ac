"""Price feed aggregation rules (domain.feeds): examples and properties."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.feeds.rules.aggregation import (
    FeedPolicy,
    Published,
    PublishReason,
    QuorumNotMet,
    aggregate,
    from_fixed_point,
    median,
    parse_value,
    publish_reason,
    to_fixed_point,
)

D = Decimal
POLICY = FeedPolicy()


def test_median_of_three_with_one_missing_and_one_outlier() -> None:
    round_ = aggregate({"a": D("10.00"), "b": D("10.10"), "c": None}, POLICY)
    assert (round_.answer, round_.used, round_.missing, round_.outliers) == (
        D("10.05000000"),
        ("a", "b"),
        ("c",),
        (),
    )
    round_ = aggregate({"a": D("10.00"), "b": D("10.10"), "c": D("12")}, POLICY)
    assert (round_.answer, round_.used, round_.outliers) == (D("10.05000000"), ("a", "b"), ("c",))


def test_quorum() -> None:
    with pytest.raises(QuorumNotMet):
        aggregate({"a": D(1), "b": None, "c": None}, POLICY)
    with pytest.raises(QuorumNotMet):  # two disagree wildly around a median between them
        aggregate({"a": D(1), "b": D(2)}, FeedPolicy(max_outlier_distance=D("0.01")))
    assert aggregate({"a": D(1)}, FeedPolicy(quorum=1)).answer == D(1)


def test_zero_median_keeps_only_zeros() -> None:
    assert aggregate({"a": D(0), "b": D(0), "c": D("0.1")}, POLICY).used == ("a", "b")


def test_fixed_point() -> None:
    assert to_fixed_point(D("12.345678915"), 8) == 1234567892  # half-even
    assert to_fixed_point(D("12.345678925"), 8) == 1234567892
    assert from_fixed_point(1234567892, 8) == D("12.34567892")


def test_parse_value() -> None:
    assert parse_value(" 1.50 ") == D("1.50")
    for bad in ("abc", "NaN", "Infinity", ""):
        with pytest.raises(InvalidInput):
            parse_value(bad)


def test_publish_decisions() -> None:
    last = Published(D(100), at=1000)
    assert publish_reason(D(100), None, 1000, POLICY) is PublishReason.FIRST
    assert publish_reason(D("100.4"), last, 1001, POLICY) is None
    assert publish_reason(D("100.6"), last, 1001, POLICY) is PublishReason.DEVIATION
    assert publish_reason(D("99.4"), last, 1001, POLICY) is PublishReason.DEVIATION
    assert publish_reason(D(100), last, 1000 + 3600, POLICY) is PublishReason.HEARTBEAT
    assert publish_reason(D(0), Published(D(0), 1000), 1001, POLICY) is None
    assert publish_reason(D("0.001"), Published(D(0), 1000), 1001, POLICY) is PublishReason.DEVIATION


def test_policy_validation() -> None:
    for bad in (
        {"quorum": 0},
        {"max_outlier_distance": D(-1)},
        {"deviation": D("NaN")},
        {"heartbeat_seconds": 0},
        {"decimals": 19},
    ):
        with pytest.raises(InvalidInput):
            FeedPolicy(**bad)


# properties ------------------------------------------------------------------------------------------

values = st.decimals(
    min_value=D("0.000001"), max_value=D("1000000"), places=6, allow_nan=False, allow_infinity=False
)
answers = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), st.one_of(st.none(), values), min_size=1, max_size=7
)


@given(answers)
def test_round_properties(data: dict[str, Decimal | None]) -> None:
    policy = FeedPolicy(quorum=2, decimals=6)
    try:
        round_ = aggregate(data, policy)
    except QuorumNotMet:
        return
    used = [data[name] for name in round_.used]
    assert len(round_.used) >= policy.quorum
    assert set(round_.used) | set(round_.outliers) | set(round_.missing) == set(data)
    assert min(v for v in used if v is not None) <= round_.answer <= max(v for v in used if v is not None)
    present = [v for v in data.values() if v is not None]
    centre = median(present)
    for name in round_.outliers:
        value = data[name]
        assert value is not None
        assert abs(value - centre) > policy.max_outlier_distance * centre


@given(answers, st.randoms())
def test_round_ignores_source_order(data: dict[str, Decimal | None], rng: random.Random) -> None:
    items = list(data.items())
    rng.shuffle(items)
    try:
        first = aggregate(data, POLICY)
    except QuorumNotMet:
        with pytest.raises(QuorumNotMet):
            aggregate(dict(items), POLICY)
        return
    assert aggregate(dict(items), POLICY) == first


@given(st.lists(values, min_size=1, max_size=9))
def test_median_bounds_and_symmetry(xs: list[Decimal]) -> None:
    m = median(xs)
    assert min(xs) <= m <= max(xs)
    assert median([-x for x in xs]) == -m
    below = sum(1 for x in xs if x < m)
    above = sum(1 for x in xs if x > m)
    assert below <= len(xs) // 2
    assert above <= len(xs) // 2


@given(values, st.integers(min_value=0, max_value=18))
def test_fixed_point_roundtrip(value: Decimal, decimals: int) -> None:
    fixed = to_fixed_point(value, decimals)
    assert abs(from_fixed_point(fixed, decimals) - value) <= D(1).scaleb(-decimals) / 2


@given(values, values, st.integers(min_value=0, max_value=10_000))
def test_publish_is_monotonic_in_distance(last: Decimal, candidate: Decimal, elapsed: int) -> None:
    published = Published(last, at=0)
    reason = publish_reason(candidate, published, elapsed, POLICY)
    if elapsed >= POLICY.heartbeat_seconds:
        assert reason is PublishReason.HEARTBEAT
    elif reason is PublishReason.DEVIATION:  # anything farther away publishes too
        farther = candidate + (candidate - last)
        assert publish_reason(farther, published, elapsed, POLICY) is PublishReason.DEVIATION
    else:
        assert reason is None
        assert abs(candidate - last) <= POLICY.deviation * last
