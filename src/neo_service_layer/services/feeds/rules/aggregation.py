"""Price feed aggregation: one round from several sources, and when to publish it on chain.

Only the standard library is imported here; every number is a ``Decimal`` (no floats anywhere).

A round:

1. Sources that did not answer (``None``) are left out; their names are recorded as ``missing``.
2. The median of the answers is taken (mean of the two middle values for an even count).
3. Answers farther than ``max_outlier_distance`` (relative: ``|v - median| > distance * |median|``)
   from that median are dropped as ``outliers``. With a median of zero only exact zeros stay.
4. The quorum (default 2) counts the answers that remain; below it the round fails (``QuorumNotMet``).
5. The answer is the median of the remaining values, quantised to ``decimals`` places (half-even), and
   ``used`` names the sources it came from.

Publishing: the first answer always; afterwards when the answer moved more than ``deviation`` (relative
to the last published answer; any move when that was zero) or the heartbeat expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import DomainError, InvalidInput

_PRECISION = 60


class QuorumNotMet(DomainError):
    """Too few sources answered (or too many were outliers) for a trustworthy round."""

    code = "feed-quorum-not-met"


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """How one feed aggregates and publishes."""

    quorum: int = 2
    max_outlier_distance: Decimal = Decimal("0.05")
    deviation: Decimal = Decimal("0.005")
    heartbeat_seconds: int = 3600
    decimals: int = 8

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise InvalidInput("quorum must be at least 1")
        if not self.max_outlier_distance.is_finite() or self.max_outlier_distance < 0:
            raise InvalidInput("max_outlier_distance must be a finite, non-negative decimal")
        if not self.deviation.is_finite() or self.deviation < 0:
            raise InvalidInput("deviation must be a finite, non-negative decimal")
        if self.heartbeat_seconds < 1:
            raise InvalidInput("heartbeat_seconds must be at least 1")
        if not 0 <= self.decimals <= 18:
            raise InvalidInput("decimals must be between 0 and 18")


@dataclass(frozen=True, slots=True)
class Round:
    """The result of one aggregation round."""

    answer: Decimal
    used: tuple[str, ...]
    outliers: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Published:
    """The last answer written on chain and when (seconds since the Unix epoch)."""

    answer: Decimal
    at: int


class PublishReason(StrEnum):
    FIRST = "first"
    DEVIATION = "deviation"
    HEARTBEAT = "heartbeat"


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


def aggregate(answers: Mapping[str, Decimal | None], policy: FeedPolicy) -> Round:
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


def publish_reason(
    candidate: Decimal, last: Published | None, now: int, policy: FeedPolicy
) -> PublishReason | None:
    """Why ``candidate`` should be published now, or ``None`` if it should not."""
    if last is None:
        return PublishReason.FIRST
    if now - last.at >= policy.heartbeat_seconds:
        return PublishReason.HEARTBEAT
    if last.answer == 0:
        return PublishReason.DEVIATION if candidate != 0 else None
    with localcontext() as context:
        context.prec = _PRECISION
        moved = abs(candidate - last.answer) / abs(last.answer)
    return PublishReason.DEVIATION if moved > policy.deviation else None
