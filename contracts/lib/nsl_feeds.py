"""Price feeds for neo3-boa consumers: read a pair's latest round and refuse a stale or incomplete one.

The feed contract (``NslPriceFeed``) answers ``latestRoundData(pair) -> [roundId, answer, startedAt,
updatedAt]``, times in milliseconds since the Unix epoch, ``updatedAt`` the block time of the update.
It has no ``answeredInRound``: a stored round is always complete, so there is nothing more to compare.
"""

from typing import cast

from boa3.sc import runtime
from boa3.sc.types import CallFlags, UInt160
from boa3.sc.utils import call_contract

ROUND_FIELDS = 4


def check_round(round_data: list, max_age_ms: int) -> list:
    """``round_data`` if it is usable; FAULTs otherwise: ``incomplete round`` (fields missing, no start
    or update time), ``no price yet`` (round id 0), ``zero or negative price``, ``stale price`` (updated
    more than ``max_age_ms`` before the current block time)."""
    assert max_age_ms >= 0, "max age must not be negative"
    assert len(round_data) == ROUND_FIELDS, "incomplete round"
    round_id = cast(int, round_data[0])
    answer = cast(int, round_data[1])
    started_at = cast(int, round_data[2])
    updated_at = cast(int, round_data[3])
    assert round_id > 0, "no price yet"
    assert started_at > 0, "incomplete round"
    assert updated_at > 0, "incomplete round"
    assert answer > 0, "zero or negative price"
    assert runtime.time - updated_at <= max_age_ms, "stale price"
    return round_data


def latest_round(feed: UInt160, pair: str, max_age_ms: int) -> list:
    """``feed``'s latest [roundId, answer, startedAt, updatedAt] for ``pair``, checked by ``check_round``.
    Needs the permission to call the feed's ``latestRoundData``."""
    assert len(feed) == 20, "feed not set"
    round_data = call_contract(feed, "latestRoundData", [pair], CallFlags.READ_ONLY)
    return check_round(cast(list, round_data), max_age_ms)


def latest_price(feed: UInt160, pair: str, max_age_ms: int) -> int:
    """The checked latest answer of ``pair`` (fixed point: divide by 10 ** the feed's ``decimals(pair)``)."""
    return cast(int, latest_round(feed, pair, max_age_ms)[1])
