"""Price feed policy and when to publish a round on chain.

The aggregation itself (median, outliers, quorum, fixed point) lives in ``enclave/wire/feed_aggregation.py``
because the enclave's ``feed_round`` op computes the round; it is re-exported here for the service.

Publishing: the first answer always; afterwards when the answer moved more than ``deviation`` (relative
to the last published answer; any move when that was zero) or the heartbeat expired. This decision stays
on the host: a compromised host can withhold or delay a round, never choose its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feed_aggregation import (
    QuorumNotMet,
    Round,
    SourceRules,
    aggregate,
    check_rules,
    from_fixed_point,
    median,
    parse_value,
    quantise,
    to_fixed_point,
)

__all__ = [
    "FeedPolicy",
    "PublishReason",
    "Published",
    "QuorumNotMet",
    "Round",
    "aggregate",
    "from_fixed_point",
    "median",
    "parse_value",
    "publish_reason",
    "quantise",
    "to_fixed_point",
]

_PRECISION = 60


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """How one feed aggregates (``sources``: what the enclave applies) and publishes (the host)."""

    quorum: int = 2
    max_outlier_distance: Decimal = Decimal("0.05")
    deviation: Decimal = Decimal("0.005")
    heartbeat_seconds: int = 3600
    decimals: int = 8

    def __post_init__(self) -> None:
        check_rules(self.quorum, self.max_outlier_distance, self.decimals)
        if not self.deviation.is_finite() or self.deviation < 0:
            raise InvalidInput("deviation must be a finite, non-negative decimal")
        if self.heartbeat_seconds < 1:
            raise InvalidInput("heartbeat_seconds must be at least 1")

    @property
    def sources(self) -> SourceRules:
        return SourceRules(self.quorum, self.max_outlier_distance, self.decimals)


@dataclass(frozen=True, slots=True)
class Published:
    """The last answer written on chain and when (seconds since the Unix epoch)."""

    answer: Decimal
    at: int


class PublishReason(StrEnum):
    FIRST = "first"
    DEVIATION = "deviation"
    HEARTBEAT = "heartbeat"


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
