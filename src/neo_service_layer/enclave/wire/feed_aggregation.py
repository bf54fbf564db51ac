"""Price feed aggregation: one round from several sources (shared by the enclave's ``feed_round`` op and
the feeds service, so both compute the same answer).

Only the standard library is imported here; every number is a ``Decimal`` (no floats anywhere).

A round:

1. Sources that did not answer (``None``) are left out; their names are recorded as ``missing``.
2. The median of the answers is taken (mean of the two middle values for an even count).
3. Answers farther than ``max_outlier_distance`` (relative: ``|v - median| > distance * |median|``)
   from that median are dropped as ``outliers``. With a median of zero only exact zeros stay.
4. The quorum (default 2) counts the answers that remain; below it the round fails (``QuorumNotMet``).
5. The answer is the median of the remaining values, quantised to ``decimals`` places (half-even), and
   ``used`` names the sources it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Protocol

from neo_service_layer.enclave.wire.errors import DomainError, InvalidInput

_PRECISION = 60
MAX_DECIMALS = 18


class QuorumNotMet(DomainError):
    """Too few sources answered (or too many were outliers) for a trustworthy round."""

    code = "feed-quorum-not-met"


class AggregationRule(Protocol):
    """What ``aggregate`` needs of a feed's policy."""

    @property
    def quorum(self) -> int: ...

    @property
    def max_outlier_distance(self) -> Decimal: ...

    @property
    def decimals(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SourceRules:
    """The aggregation part of a feed's policy: what the enclave applies (and signs a digest of)."""

    quorum: int = 2
    max_outlier_distance: Decimal = Decimal("0.05")
    decimals: int = 8

    def __post_init__(self) -> None:
        check_rules(self.quorum, self.max_outlier_distance, self.decimals)


def check_rules(quorum: int, max_outlier_distance: Decimal, decimals: int) -> None:
    """Raise ``InvalidInput`` for a quorum below 1, a bad outlier distance or decimals outside 0-18."""
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
        raise InvalidInput("quorum must be at least 1")
    if not isinstance(max_outlier_distance, Decimal) or not max_outlier_distance.is_finite():
        raise InvalidInput("max_outlier_distance must be a finite, non-negative decimal")
    if max_outlier_distance < 0:
        raise InvalidInput("max_outlier_distance must be a finite, non-negative decimal")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
        raise InvalidInput(f"decimals must be between 0 and {MAX_DECIMALS}")


@dataclass(frozen=True, slots=True)
class Round:
    """The result of one aggregation round."""

    answer: Decimal
    used: tuple[str, ...]
    outliers: tuple[str, ...]
    missing: tuple[str, ...]


def parse_value(text: str) -> Decimal:
    """A source's answer as a finite ``Decimal``; anything else raises ``InvalidInput``."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidInput("not a decimal number") from None
    if not value.is_finite():
        raise InvalidInput("not a finite number")
    return value


def median(values: list[Decimal]) -> Decimal:
    """Median of a non-empty list (exact: the even case halves the sum at high precision)."""
    if not values:
        raise InvalidInput("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    with localcontext() as context:
        context.prec = _PRECISION
        return (ordered[middle - 1] + ordered[middle]) / 2


def aggregate(answers: Mapping[str, Decimal | None], policy: AggregationRule) -> Round:
    """One round over ``answers`` (source name -> value, or ``None`` if it did not answer)."""
    missing = tuple(sorted(name for name, value in answers.items() if value is None))
    present = {name: value for name, value in answers.items() if value is not None}
    if any(not value.is_finite() for value in present.values()):
        raise InvalidInput("source values must be finite")
    if len(present) < policy.quorum:
        raise QuorumNotMet(f"{len(present)} of {len(answers)} sources answered; quorum is {policy.quorum}")
    centre = median(list(present.values()))
    with localcontext() as context:
        context.prec = _PRECISION
        limit = policy.max_outlier_distance * abs(centre)
        kept = {name: v for name, v in present.items() if abs(v - centre) <= limit}
    outliers = tuple(sorted(set(present) - set(kept)))
    if len(kept) < policy.quorum:
        raise QuorumNotMet(
            f"{len(kept)} sources agree within the outlier distance; quorum is {policy.quorum}"
        )
    answer = quantise(median(list(kept.values())), policy.decimals)
    return Round(answer, tuple(sorted(kept)), outliers, missing)


def quantise(value: Decimal, decimals: int) -> Decimal:
    """``value`` rounded half-even to ``decimals`` places."""
    with localcontext() as context:
        context.prec = _PRECISION
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


def to_fixed_point(value: Decimal, decimals: int) -> int:
    """The integer written on chain: ``value * 10**decimals``, rounded half-even."""
    with localcontext() as context:
        context.prec = _PRECISION
        return int(quantise(value, decimals).scaleb(decimals))


def from_fixed_point(value: int, decimals: int) -> Decimal:
    with localcontext() as context:
        context.prec = _PRECISION
        return Decimal(value).scaleb(-decimals)
