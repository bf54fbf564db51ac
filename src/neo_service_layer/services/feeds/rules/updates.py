"""Price feed definitions (``NSL_FEEDS``): pair, description, sources and policy.

Only the standard library is imported here. The round message, the sources digest and the source type live
in ``enclave/wire/feeds.py``, shared with the enclave's ``feed_round`` op that signs rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feeds import (
    MAX_DESCRIPTION,
    MAX_SOURCES,
    FeedSource,
    FeedSources,
    check_pair,
)
from neo_service_layer.services.feeds.rules.aggregation import FeedPolicy

__all__ = ["FeedDefinition", "FeedSource", "check_pair"]


@dataclass(frozen=True, slots=True)
class FeedDefinition:
    pair: str
    description: str
    sources: tuple[FeedSource, ...]
    policy: FeedPolicy

    @property
    def decimals(self) -> int:
        return self.policy.decimals

    @property
    def source_set(self) -> FeedSources:
        """The sources and aggregation rule the enclave applies (and whose digest every round signs)."""
        return FeedSources(self.sources, self.policy.sources)

    def sources_digest(self) -> bytes:
        """What the feed contract must hold for this pair (``setFeed``) to accept its rounds."""
        return self.source_set.digest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedDefinition:
        """From configuration (``NSL_FEEDS``) or the API; ``InvalidInput`` says what is wrong."""
        try:
            pair = check_pair(str(data["pair"]))
            description = str(data.get("description") or pair)
            raw_sources = data["sources"]
            if not isinstance(raw_sources, list) or not 1 <= len(raw_sources) <= MAX_SOURCES:
                raise InvalidInput(f"a feed has 1-{MAX_SOURCES} sources")
            sources = tuple(
                FeedSource(str(s["name"]), str(s["url"]), str(s.get("path") or "")) for s in raw_sources
            )
            policy = FeedPolicy(
                quorum=int(data.get("quorum", 2)),
                max_outlier_distance=Decimal(str(data.get("max_outlier_distance", "0.05"))),
                deviation=Decimal(str(data.get("deviation", "0.005"))),
                heartbeat_seconds=int(data.get("heartbeat_seconds", 3600)),
                decimals=int(data.get("decimals", 8)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise InvalidInput(
                "a feed needs pair and sources [{name, url, path}]; numbers must be numbers"
            ) from None
        if len(description.encode()) > MAX_DESCRIPTION:
            raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} bytes")
        FeedSources(sources, policy.sources)  # checks names, URLs, paths and the quorum
        return cls(pair, description, sources, policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "description": self.description,
            "decimals": self.policy.decimals,
            "sources": [{"name": s.name, "url": s.url, "path": s.path} for s in self.sources],
            "quorum": self.policy.quorum,
            "max_outlier_distance": str(self.policy.max_outlier_distance),
            "deviation": str(self.policy.deviation),
            "heartbeat_seconds": self.policy.heartbeat_seconds,
            "sources_digest": self.sources_digest().hex(),
        }
