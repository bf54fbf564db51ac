"""Price feeds: one contract for every pair, updated only with the oracle key's signature.

Reading (Chainlink-like, per pair such as "NEO/USD"):

- ``latestRoundData(pair) -> [roundId, answer, startedAt, updatedAt]`` ([0, 0, 0, 0] before any round);
- ``getRoundData(pair, roundId)`` (same shape, [0, 0, 0, 0] for an unknown round);
- ``decimals(pair)``, ``description(pair)``.

``answer`` is a fixed-point integer (``answer / 10**decimals``); ``startedAt`` is when the off-chain round
began and ``updatedAt`` the block time of the update, both in milliseconds since the Unix epoch.

Writing: ``submit(pair, roundId, answer, startedAt, decimals, description, signature)``, by anyone, valid
only with the oracle key's secp256r1 signature over (see ``domain/feed_updates.py`` and docs/oracle.md)
``"NSL-FEED-V1" || contract || i64le(roundId) || i128le(answer) || i64le(startedAt) || u8(decimals) ||
u32le(len(pair)) || pair || u32le(len(description)) || description``. Rounds are consecutive (latest + 1),
``startedAt`` only moves forward, the answer is positive, and a pair's decimals never change.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib
from boa3.sc.types import ECPoint, NamedCurveHash, Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, to_bytes

MESSAGE_TAG = b"NSL-FEED-V1"
MAX_PAIR = 25
MAX_DESCRIPTION = 100
MAX_DECIMALS = 18
FUTURE_TOLERANCE_MS = 300_000  # a round may not start more than 5 minutes after the block time

KEY_OWNER = b"o"
KEY_PUBLIC = b"k"
PREFIX_LATEST = b"L"  # + pair: latest round id
PREFIX_META = b"M"  # + pair: [decimals, description]
PREFIX_ROUND = b"R"  # + pair + i64le(roundId): [answer, startedAt, updatedAt]

FeedUpdated = CreateNewEvent(
    [("pair", str), ("roundId", int), ("answer", int), ("updatedAt", int)], "FeedUpdated"
)
KeyChanged = CreateNewEvent([("publicKey", bytes)], "KeyChanged")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslPriceFeed"
    meta.description = "Neo Service Layer price feeds (enclave-signed rounds)"
    return meta


def _owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


def _only_owner():
    assert runtime.check_witness(_owner()), "only the owner may do this"


def _set_key(public_key: bytes):
    assert len(public_key) == 33, "publicKey must be a 33-byte compressed secp256r1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "publicKey must be compressed"
    storage.put(KEY_PUBLIC, public_key)
    KeyChanged(public_key)


def _prefixed(value: bytes) -> bytes:
    return to_bytes(len(value), 4) + value


def _round_key(pair: str, round_id: int) -> bytes:
    return PREFIX_ROUND + to_bytes(pair) + to_bytes(round_id, 8)


@public
def _deploy(data: Any, update: bool):
    """data: [owner, publicKey (33 bytes)], or None: owner = sender, no key until setKey."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    owner = tx.sender
    if data is not None:
        args = cast(list, data)
        owner = cast(UInt160, args[0])
        if len(args) >= 2:
            _set_key(cast(bytes, args[1]))
    assert len(owner) == 20, "owner must be a script hash"
    storage.put_uint160(KEY_OWNER, owner)


@public
def submit(
    pair: str, roundId: int, answer: int, startedAt: int, decimals: int, description: str, signature: bytes
) -> int:
    """Record the next round of ``pair``; returns the block time stored as ``updatedAt``."""
    assert len(pair) > 0, "pair is required"
    assert len(pair) <= MAX_PAIR, "pair is too long"
    assert len(description) <= MAX_DESCRIPTION, "description is too long"
    assert answer > 0, "answer must be positive"
    assert decimals >= 0, "decimals must be between 0 and 18"
    assert decimals <= MAX_DECIMALS, "decimals must be between 0 and 18"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    pair_bytes = to_bytes(pair)
    latest = storage.get_int(PREFIX_LATEST + pair_bytes)
    assert roundId == latest + 1, "roundId must be the latest round + 1"
    now = runtime.time
    assert startedAt <= now + FUTURE_TOLERANCE_MS, "round starts in the future"
    if latest > 0:
        previous = cast(list, storage.get_list(_round_key(pair, latest)))
        assert startedAt > cast(int, previous[1]), "round must start after the previous one"
        meta = cast(list, storage.get_list(PREFIX_META + pair_bytes))
        assert cast(int, meta[0]) == decimals, "decimals of a pair never change"

    message = (
        MESSAGE_TAG
        + runtime.executing_script_hash
        + to_bytes(roundId, 8)
        + to_bytes(answer, 16)
        + to_bytes(startedAt, 8)
        + to_bytes(decimals, 1)
        + _prefixed(pair_bytes)
        + _prefixed(to_bytes(description))
    )
    key = storage.get(KEY_PUBLIC)
    assert len(key) == 33, "no signing key is set"
    valid = CryptoLib.verify_with_ecdsa(message, ECPoint(key), signature, NamedCurveHash.SECP256R1SHA256)
    assert valid, "invalid signature"

    storage.put_int(PREFIX_LATEST + pair_bytes, roundId)
    storage.put_list(PREFIX_META + pair_bytes, [decimals, description])
    storage.put_list(_round_key(pair, roundId), [answer, startedAt, now])
    FeedUpdated(pair, roundId, answer, now)
    return now


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
    """Decimals of ``pair``'s answers (0 before its first round)."""
    data = storage.get(PREFIX_META + to_bytes(pair))
    if len(data) == 0:
        return 0
    return cast(int, cast(list, storage.get_list(PREFIX_META + to_bytes(pair)))[0])


@public(safe=True)
def description(pair: str) -> str:
    """Human-readable description of ``pair`` ('' before its first round)."""
    data = storage.get(PREFIX_META + to_bytes(pair))
    if len(data) == 0:
        return ""
    return cast(str, cast(list, storage.get_list(PREFIX_META + to_bytes(pair)))[1])


@public(name="publicKey", safe=True)
def public_key() -> bytes:
    return storage.get(KEY_PUBLIC)


@public(name="setKey")
def set_key(publicKey: bytes):
    """Owner only: replace the signing key (the oracle key after a rotation)."""
    _only_owner()
    _set_key(publicKey)


@public(safe=True)
def owner() -> UInt160:
    return _owner()


@public
def update(nef_file: bytes, manifest: bytes):
    """Owner only: replace the contract code (storage is kept)."""
    _only_owner()
    ContractManagement.update(nef_file, manifest)
