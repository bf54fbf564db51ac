"""Price feed rounds shared by the enclave's ``feed_round`` op, the feeds service and the feed contract
(``contracts/price_feed.py`` in the feeds service's folder).

Only the standard library is imported here.

The sources of a feed and their aggregation rule are bound by a digest the feed contract stores per pair
(``setFeed``, set by the owner; ``nsl chain up`` sets it for each configured feed at deploy)::

    sources_digest = SHA-256(
        "NSL-FEED-SOURCES-V1"                            19 bytes, ASCII
        u32le(quorum)
        u32le(len(d)) || d                               d: max_outlier_distance as a plain decimal
                                                         string, normalised ("0.05", "0", "10")
        u32le(n)                                         the number of sources, then each source sorted
        for each: u32le(len(name)) || name ||            by name (the order of the configuration does
                  u32le(len(url)) || url ||              not matter), UTF-8
                  u32le(len(path)) || path)

Signed round message, V2 (mirrored exactly by the contract's ``submit``)::

    "NSL-FEED-V2"                          11 bytes, ASCII
    u32le(magic)                            4 bytes: the Neo network magic (``Runtime.GetNetwork()``)
    contract                               20 bytes: the feed contract's script hash, little-endian
    i64le(roundId)                          8 bytes: the new round, latest + 1
    i128le(answer)                         16 bytes: the answer as a fixed-point integer (> 0)
    i64le(startedAt)                        8 bytes: milliseconds since the Unix epoch, round start
    u8(decimals)                            1 byte
    sources_digest                         32 bytes
    u32le(len(pair))        || pair         UTF-8
    u32le(len(description)) || description  UTF-8

The oracle key (secp256r1) signs it as ECDSA over SHA-256, 64-byte ``r || s``, only inside the enclave's
``feed_round`` op, which fetched the sources and aggregated the answer itself; raw ``sign`` refuses any
message starting with ``MESSAGE_PREFIX`` for oracle keys.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feed_aggregation import Round, SourceRules, check_rules

MESSAGE_TAG: Final = b"NSL-FEED-V2"
#: every feed message tag (V1 and V2) starts so; raw signing refuses such messages for oracle keys
MESSAGE_PREFIX: Final = b"NSL-FEED-"
SOURCES_TAG: Final = b"NSL-FEED-SOURCES-V1"
MAX_SOURCES: Final = 16
MAX_DESCRIPTION: Final = 100
MAX_URL_BYTES: Final = 1024
MAX_PATH_CHARS: Final = 1024
#: a round's start may differ from the enclave's clock by at most this much (either way)
START_TOLERANCE_MS: Final = 300_000
#: each source's fetch timeout inside the enclave
SOURCE_TIMEOUT_SECONDS: Final = 5.0
HASH160_BYTES: Final = 20
DIGEST_BYTES: Final = 32

_PAIR = re.compile(r"^[A-Z0-9]{1,12}/[A-Z0-9]{1,12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def check_pair(pair: str) -> str:
    """``BASE/QUOTE`` in upper-case letters and digits, each 1-12 characters."""
    if not isinstance(pair, str) or not _PAIR.fullmatch(pair):
        raise InvalidInput("a pair is BASE/QUOTE with 1-12 upper-case letters or digits each, e.g. NEO/USD")
    return pair


def _prefixed(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("<I", len(raw)) + raw


def plain_decimal(value: Decimal) -> str:
    """``value`` as a normalised plain decimal string (``0.050`` -> ``0.05``, ``1E+1`` -> ``10``)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One exchange: a URL fetched with GET by the enclave, and an RFC 9535 JSONPath to the price."""

    name: str
    url: str
    path: str


@dataclass(frozen=True, slots=True)
class FeedSources:
    """What a feed's answer is computed from: the sources and the aggregation rule (the digest's input)."""

    sources: tuple[FeedSource, ...]
    rules: SourceRules

    def __post_init__(self) -> None:
        if not 1 <= len(self.sources) <= MAX_SOURCES:
            raise InvalidInput(f"a feed has 1-{MAX_SOURCES} sources")
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names) or not all(isinstance(n, str) and _NAME.fullmatch(n) for n in names):
            raise InvalidInput("source names must be unique, 1-40 letters, digits, '_', '.' or '-'")
        for source in self.sources:
            if not isinstance(source.url, str) or not 1 <= len(source.url.encode()) <= MAX_URL_BYTES:
                raise InvalidInput(f"a source URL is 1-{MAX_URL_BYTES} bytes")
            if not isinstance(source.path, str) or len(source.path) > MAX_PATH_CHARS:
                raise InvalidInput(f"a source path is at most {MAX_PATH_CHARS} characters")
        if self.rules.quorum > len(self.sources):
            raise InvalidInput("quorum is larger than the number of sources")

    def encoding(self) -> bytes:
        """The canonical bytes hashed into ``digest`` (see the module docstring)."""
        parts = [
            SOURCES_TAG,
            struct.pack("<I", self.rules.quorum),
            _prefixed(plain_decimal(self.rules.max_outlier_distance)),
            struct.pack("<I", len(self.sources)),
        ]
        for source in sorted(self.sources, key=lambda s: s.name):
            parts += [_prefixed(source.name), _prefixed(source.url), _prefixed(source.path)]
        return b"".join(parts)

    def digest(self) -> bytes:
        """SHA-256 of ``encoding()``: what the feed contract stores per pair and every round signs."""
        return hashlib.sha256(self.encoding()).digest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "quorum": self.rules.quorum,
            "max_outlier_distance": plain_decimal(self.rules.max_outlier_distance),
            "sources": [{"name": s.name, "url": s.url, "path": s.path} for s in self.sources],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], decimals: int) -> FeedSources:
        """Inverse of ``to_dict``; raises ``InvalidInput`` saying what is wrong."""
        try:
            raw = data["sources"]
            distance = data["max_outlier_distance"]
            if not isinstance(raw, list) or not isinstance(distance, str):
                raise TypeError
            sources = tuple(_source(item) for item in raw)
            rules = SourceRules(data["quorum"], Decimal(distance), decimals)
        except (KeyError, TypeError, InvalidOperation):
            raise InvalidInput(
                "sources must be {quorum, max_outlier_distance, sources: [{name, url, path}]}"
            ) from None
        return cls(sources, rules)


def _source(item: Any) -> FeedSource:
    if not isinstance(item, Mapping):
        raise TypeError
    name, url, path = item["name"], item["url"], item.get("path", "")
    if not all(isinstance(v, str) for v in (name, url, path)):
        raise TypeError
    return FeedSource(name, url, path)


@dataclass(frozen=True, slots=True)
class FeedRoundFacts:
    """What one round is bound to besides its answer and sources: network, contract, pair, round, start,
    decimals and description (the contract stores decimals and description per pair with the digest)."""

    magic: int
    contract: bytes
    pair: str
    round_id: int
    started_at_ms: int
    decimals: int
    description: str

    def __post_init__(self) -> None:
        if isinstance(self.magic, bool) or not isinstance(self.magic, int) or not 0 <= self.magic < 2**32:
            raise InvalidInput("network magic must be between 0 and 2^32-1")
        if not isinstance(self.contract, bytes) or len(self.contract) != HASH160_BYTES:
            raise InvalidInput(f"contract must be {HASH160_BYTES} bytes (little-endian script hash)")
        check_pair(self.pair)
        if not isinstance(self.round_id, int) or not 1 <= self.round_id < 2**63:
            raise InvalidInput("round id must be between 1 and 2^63-1")
        if not isinstance(self.started_at_ms, int) or not 0 <= self.started_at_ms < 2**63:
            raise InvalidInput("startedAt must be between 0 and 2^63-1 milliseconds")
        check_rules(1, Decimal(0), self.decimals)
        if not isinstance(self.description, str) or len(self.description.encode()) > MAX_DESCRIPTION:
            raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} bytes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "magic": self.magic,
            "contract": self.contract.hex(),
            "pair": self.pair,
            "round_id": self.round_id,
            "started_at": self.started_at_ms,
            "decimals": self.decimals,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedRoundFacts:
        try:
            return cls(
                magic=data["magic"],
                contract=bytes.fromhex(data["contract"]),
                pair=data["pair"],
                round_id=data["round_id"],
                started_at_ms=data["started_at"],
                decimals=data["decimals"],
                description=data["description"],
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("round facts must be {magic, contract (hex), pair, round_id, ...}") from None


def round_message(facts: FeedRoundFacts, sources_digest: bytes, answer: int) -> bytes:
    """The exact bytes the oracle key signs (inside ``feed_round``) and the feed contract verifies."""
    if len(sources_digest) != DIGEST_BYTES:
        raise InvalidInput("sources digest must be 32 bytes")
    if not 0 < answer < 2**127:
        raise InvalidInput("answer must be positive and below 2^127")
    return b"".join(
        (
            MESSAGE_TAG,
            struct.pack("<I", facts.magic),
            facts.contract,
            facts.round_id.to_bytes(8, "little", signed=True),
            answer.to_bytes(16, "little", signed=True),
            facts.started_at_ms.to_bytes(8, "little", signed=True),
            bytes([facts.decimals]),
            sources_digest,
            _prefixed(facts.pair),
            _prefixed(facts.description),
        )
    )


@dataclass(frozen=True, slots=True)
class FeedRound:
    """What ``feed_round`` answers: per-source values, the round, and (when it signed) the signature.

    ``refusal`` is empty when the round is signed; otherwise it says why nothing was signed (quorum not
    met: ``round`` is ``None``; a non-positive answer: ``round`` is set).
    """

    facts: FeedRoundFacts
    sources_digest: bytes
    values: tuple[tuple[str, Decimal | None], ...]
    round: Round | None
    answer: int | None
    signature: bytes | None
    refusal: str
    key_id: str
    key_version: int
    public_key: bytes

    def message(self) -> bytes:
        """The signed bytes (``round_message``); ``InvalidInput`` for a refused round."""
        if self.answer is None:
            raise InvalidInput("a refused round has no message")
        return round_message(self.facts, self.sources_digest, self.answer)

    def to_dict(self) -> dict[str, Any]:
        r = self.round
        return {
            "facts": self.facts.to_dict(),
            "sources_digest": self.sources_digest.hex(),
            "values": [[name, None if v is None else str(v)] for name, v in self.values],
            "round": None
            if r is None
            else {"answer": str(r.answer), "used": list(r.used), "outliers": list(r.outliers),
                  "missing": list(r.missing)},
            "answer": self.answer,
            "signature": None if self.signature is None else self.signature.hex(),
            "refusal": self.refusal,
            "key_id": self.key_id,
            "key_version": self.key_version,
            "public_key": self.public_key.hex(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedRound:
        """Inverse of ``to_dict``; raises ``KeyError``/``TypeError``/``ValueError`` on a malformed answer."""
        raw_round = data["round"]
        round_ = None
        if raw_round is not None:
            round_ = Round(
                Decimal(raw_round["answer"]),
                _names(raw_round["used"]),
                _names(raw_round["outliers"]),
                _names(raw_round["missing"]),
            )
        signature, answer = data["signature"], data["answer"]
        return cls(
            facts=FeedRoundFacts.from_dict(data["facts"]),
            sources_digest=bytes.fromhex(data["sources_digest"]),
            values=tuple((str(n), None if v is None else Decimal(v)) for n, v in data["values"]),
            round=round_,
            answer=None if answer is None else int(answer),
            signature=None if signature is None else bytes.fromhex(signature),
            refusal=str(data["refusal"]),
            key_id=str(data["key_id"]),
            key_version=int(data["key_version"]),
            public_key=bytes.fromhex(data["public_key"]),
        )


def _names(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)
