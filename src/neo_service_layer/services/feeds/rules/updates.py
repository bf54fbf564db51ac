"""Price feed definitions and the signed update message of the feed contract (``contracts/price_feed.py``
in this service's folder).

Only the standard library is imported here.

Signed message (mirrored exactly by the contract's ``submit``; see ``docs/oracle.md``)::

    "NSL-FEED-V1"                          11 bytes, ASCII
    contract                                20 bytes: the feed contract's script hash, little-endian
                                            (as ``runtime.executing_script_hash``): binds the deployment
    i64le(roundId)                          8 bytes: the new round, latest + 1
    i128le(answer)                          16 bytes: the answer as a fixed-point integer (> 0)
    i64le(startedAt)                        8 bytes: milliseconds since the Unix epoch, round start
    u8(decimals)                            1 byte
    u32le(len(pair))        || pair         UTF-8
    u32le(len(description)) || description  UTF-8

The oracle key (secp256r1) signs it as ECDSA over SHA-256, 64-byte ``r || s``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.feeds.rules.aggregation import FeedPolicy

MESSAGE_TAG: Final = b"NSL-FEED-V1"
MAX_SOURCES: Final = 16
MAX_DESCRIPTION: Final = 100
_PAIR = re.compile(r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def check_pair(pair: str) -> str:
    """``BASE/QUOTE`` in upper-case letters and digits, each 1-12 characters."""
    if not _PAIR.fullmatch(pair):
        raise InvalidInput("a pair is BASE/QUOTE with 1-12 upper-case letters or digits each, e.g. NEO/USD")
    return pair


def _prefixed(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("<I", len(raw)) + raw


def update_message(
    contract: bytes,
    pair: str,
    round_id: int,
    answer: int,
    started_at_ms: int,
    decimals: int,
    description: str,
) -> bytes:
    """The exact bytes the oracle key signs and the feed contract's ``submit`` verifies."""
    if len(contract) != 20:
        raise InvalidInput("contract must be a 20-byte script hash (little-endian)")
    if not 1 <= round_id < 2**63 or not 0 < answer < 2**127 or not 0 <= started_at_ms < 2**63:
        raise InvalidInput("round id, answer or timestamp out of range")
    if not 0 <= decimals <= 18:
        raise InvalidInput("decimals must be between 0 and 18")
    return b"".join(
        (
            MESSAGE_TAG,
            contract,
            round_id.to_bytes(8, "little", signed=True),
            answer.to_bytes(16, "little", signed=True),
            started_at_ms.to_bytes(8, "little", signed=True),
            bytes([decimals]),
            _prefixed(check_pair(pair)),
            _prefixed(description),
        )
    )


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One exchange: a URL fetched with GET through the enclave, and an RFC 9535 JSONPath to the price."""

    name: str
    url: str
    path: str


@dataclass(frozen=True, slots=True)
class FeedDefinition:
    pair: str
    description: str
    sources: tuple[FeedSource, ...]
    policy: FeedPolicy

    @property
    def decimals(self) -> int:
        return self.policy.decimals

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
        names = [s.name for s in sources]
        if len(set(names)) != len(names) or not all(_NAME.fullmatch(n) for n in names):
            raise InvalidInput("source names must be unique, 1-40 letters, digits, '_', '.' or '-'")
        if policy.quorum > len(sources):
            raise InvalidInput("quorum is larger than the number of sources")
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
        }
