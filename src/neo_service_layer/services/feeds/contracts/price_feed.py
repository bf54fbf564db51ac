"""Price feeds: one contract for every pair, updated only with the oracle key's signature.

Reading (Chainlink-like, per pair such as "NEO/USD"):

- ``latestRoundData(pair) -> [roundId, answer, startedAt, updatedAt]`` ([0, 0, 0, 0] before any round);
- ``getRoundData(pair, roundId)`` (same shape, [0, 0, 0, 0] for an unknown round);
- ``decimals(pair)``, ``description(pair)``.

``answer`` is a fixed-point integer (``answer / 10**decimals``); ``startedAt`` is when the off-chain round
began and ``updatedAt`` the block time of the update, both in milliseconds since the Unix epoch.

Feed configuration, per pair, by the owner: ``setFeed(pair, sourcesDigest, decimals, description)``
(``nsl chain up`` sets it for each configured feed through the ``_deploy`` data); ``feed(pair) ->
[sourcesDigest, decimals, description]``. ``sourcesDigest`` is SHA-256 of the feed's sources and
aggregation rule (``enclave/wire/feeds.py``); a pair's decimals never change once it has a round.

Writing: ``submit(pair, roundId, answer, startedAt, signature)``, by anyone, valid only with the oracle
key's secp256r1 signature over the V2 round message (``enclave/wire/feeds.py``; the enclave's
``feed_round`` builds it after fetching and aggregating the sources itself) ``"NSL-FEED-V2" ||
u32le(magic) || contract || i64le(roundId) || i128le(answer) || i64le(startedAt) || u8(decimals) ||
sourcesDigest || u32le(len(pair)) || pair || u32le(len(description)) || description``, where magic is
this network's, contract this contract, and decimals, description and sourcesDigest those the owner set
for the pair: a round signed for another network, deployment or set of sources FAULTs. Rounds are
consecutive (latest + 1), ``startedAt`` only moves forward, is at most 5 minutes ahead of and 10 minutes
behind the block time (a held-back round cannot be published late), and the answer is positive.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import CryptoLib
from boa3.sc.types import ECPoint, NamedCurveHash, UInt160
from boa3.sc.utils import CreateNewEvent, to_bytes

# owner, operator and the owner delay (update/destroy) come from the shared library: its public methods
# listed here are this contract's (neo3-boa exports an imported @public)
# fmt: off
# isort: off
from neo_service_layer.kernel.chain.contracts.service_admin import (
    cancel_destroy, cancel_update, destroy, init_admin, only_owner, operator, owner, schedule_destroy,
    schedule_update, scheduled_destroy, scheduled_update, set_operator, update, update_delay,
)
# isort: on
# fmt: on

MESSAGE_TAG = b"NSL-FEED-V2"
MAX_PAIR = 25
MAX_DESCRIPTION = 100
MAX_DECIMALS = 18
FUTURE_TOLERANCE_MS = 300_000  # a round may not start more than 5 minutes after the block time
MAX_ROUND_AGE_MS = 600_000  # nor more than 10 minutes before it
DIGEST_BYTES = 32

KEY_PUBLIC = b"k"  # the library's keys start with "_"
PREFIX_LATEST = b"L"  # + pair: latest round id
PREFIX_FEED = b"F"  # + pair: [sourcesDigest, decimals, description], set by the owner
PREFIX_ROUND = b"R"  # + pair + i64le(roundId): [answer, startedAt, updatedAt]

FeedUpdated = CreateNewEvent(
    [("pair", str), ("roundId", int), ("answer", int), ("updatedAt", int)], "FeedUpdated"
)
KeyChanged = CreateNewEvent([("publicKey", bytes)], "KeyChanged")
FeedConfigured = CreateNewEvent(
    [("pair", str), ("sourcesDigest", bytes), ("decimals", int), ("description", str)], "FeedConfigured"
)


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslPriceFeed"
    meta.description = "Neo Service Layer price feeds (enclave-signed rounds)"
    return meta


def _only_owner():
    only_owner()


def _set_key(public_key: bytes):
    assert len(public_key) == 33, "publicKey must be a 33-byte compressed secp256r1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "publicKey must be compressed"
    storage.put(KEY_PUBLIC, public_key)
    KeyChanged(public_key)


def _prefixed(value: bytes) -> bytes:
    return to_bytes(len(value), 4) + value


def _round_key(pair: str, round_id: int) -> bytes:
    return PREFIX_ROUND + to_bytes(pair) + to_bytes(round_id, 8)


def _u32(value: int) -> bytes:
    """``u32le(value)`` for 0 <= value < 2^32 (to_bytes is signed: pad past the sign bit, keep 4 bytes)."""
    return to_bytes(value + 0x100000000, 5)[:4]


def _set_feed(pair: str, sources_digest: bytes, decimals: int, description: str):
    assert len(pair) > 0, "pair is required"
    assert len(pair) <= MAX_PAIR, "pair is too long"
    assert len(sources_digest) == DIGEST_BYTES, "sourcesDigest must be 32 bytes"
    assert decimals >= 0, "decimals must be between 0 and 18"
    assert decimals <= MAX_DECIMALS, "decimals must be between 0 and 18"
    assert len(description) <= MAX_DESCRIPTION, "description is too long"
    pair_bytes = to_bytes(pair)
    if storage.get_int(PREFIX_LATEST + pair_bytes) > 0:
        current = cast(list, storage.get_list(PREFIX_FEED + pair_bytes))
        assert cast(int, current[1]) == decimals, "decimals of a pair never change"
    storage.put_list(PREFIX_FEED + pair_bytes, [sources_digest, decimals, description])
    FeedConfigured(pair, sources_digest, decimals, description)


def _feed(pair: str) -> list:
    """[sourcesDigest, decimals, description] of ``pair``, or [] when the owner has not set it."""
    data = storage.get(PREFIX_FEED + to_bytes(pair))
    if len(data) == 0:
        return []
    return cast(list, storage.get_list(PREFIX_FEED + to_bytes(pair)))


@public
def _deploy(data: Any, update: bool):
    """data: [owner, operator, updateDelay, publicKey (33 bytes), feeds ([[pair, sourcesDigest, decimals,
    description], ...])]; a missing entry (or None): owner and operator = sender, default delay, no key
    until setKey, no feed until setFeed."""
    if not update:
        _setup(data)


def _setup(data: Any):
    """``_deploy``'s work (neo3-boa 1.5 drops ``args = ...`` assignments inside ``_deploy`` itself)."""
    args = cast(list, [])
    if isinstance(data, list):
        args = data
    init_admin(args, 0)
    if len(args) >= 4:
        _set_key(cast(bytes, args[3]))
    if len(args) >= 5:
        for item in cast(list, args[4]):
            feed = cast(list, item)
            _set_feed(cast(str, feed[0]), cast(bytes, feed[1]), cast(int, feed[2]), cast(str, feed[3]))


@public
def submit(pair: str, roundId: int, answer: int, startedAt: int, signature: bytes) -> int:
    """Record the next round of ``pair``; returns the block time stored as ``updatedAt``."""
    config = _feed(pair)
    assert len(config) == 3, "the owner has not set this feed"
    assert answer > 0, "answer must be positive"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    pair_bytes = to_bytes(pair)
    latest = storage.get_int(PREFIX_LATEST + pair_bytes)
    assert roundId == latest + 1, "roundId must be the latest round + 1"
    now = runtime.time
    assert startedAt <= now + FUTURE_TOLERANCE_MS, "round starts in the future"
    assert startedAt + MAX_ROUND_AGE_MS >= now, "round is too old"
    if latest > 0:
        previous = cast(list, storage.get_list(_round_key(pair, latest)))
        assert startedAt > cast(int, previous[1]), "round must start after the previous one"

    message = (
        MESSAGE_TAG
        + _u32(runtime.get_network())
        + runtime.executing_script_hash
        + to_bytes(roundId, 8)
        + to_bytes(answer, 16)
        + to_bytes(startedAt, 8)
        + to_bytes(cast(int, config[1]), 1)
        + cast(bytes, config[0])
        + _prefixed(pair_bytes)
        + _prefixed(to_bytes(cast(str, config[2])))
    )
    key = storage.get(KEY_PUBLIC)
    assert len(key) == 33, "no signing key is set"
    valid = CryptoLib.verify_with_ecdsa(message, ECPoint(key), signature, NamedCurveHash.SECP256R1SHA256)
    assert valid, "invalid signature"

    storage.put_int(PREFIX_LATEST + pair_bytes, roundId)
    storage.put_list(_round_key(pair, roundId), [answer, startedAt, now])
    FeedUpdated(pair, roundId, answer, now)
    return now


@public(name="setFeed")
def set_feed(pair: str, sourcesDigest: bytes, decimals: int, description: str):
    """Owner only: the sources digest, decimals and description rounds of ``pair`` must be signed for."""
    _only_owner()
    _set_feed(pair, sourcesDigest, decimals, description)


@public(safe=True)
def feed(pair: str) -> list:
    """[sourcesDigest, decimals, description] of ``pair`` ([] before the owner set it)."""
    return _feed(pair)


@public(name="latestRoundData", safe=True)
def latest_round_data(pair: str) -> list:
    """[roundId, answer, startedAt, updatedAt] of the latest round ([0, 0, 0, 0] before any)."""
    return get_round_data(pair, storage.get_int(PREFIX_LATEST + to_bytes(pair)))


@public(name="getRoundData", safe=True)
def get_round_data(pair: str, roundId: int) -> list:
    """[roundId, answer, startedAt, updatedAt] of ``roundId`` ([0, 0, 0, 0] when unknown)."""
    if roundId <= 0:
        return [0, 0, 0, 0]
    data = storage.get(_round_key(pair, roundId))
    if len(data) == 0:
        return [0, 0, 0, 0]
    stored = cast(list, storage.get_list(_round_key(pair, roundId)))
    return [roundId, stored[0], stored[1], stored[2]]


@public(safe=True)
def decimals(pair: str) -> int:
    """Decimals of ``pair``'s answers (0 before the owner set the feed)."""
    config = _feed(pair)
    if len(config) == 0:
        return 0
    return cast(int, config[1])


@public(safe=True)
def description(pair: str) -> str:
    """Human-readable description of ``pair`` ('' before the owner set the feed)."""
    config = _feed(pair)
    if len(config) == 0:
        return ""
    return cast(str, config[2])


@public(name="publicKey", safe=True)
def public_key() -> bytes:
    return storage.get(KEY_PUBLIC)


@public(name="setKey")
def set_key(publicKey: bytes):
    """Owner only: replace the signing key (the oracle key after a rotation)."""
    _only_owner()
    _set_key(publicKey)
