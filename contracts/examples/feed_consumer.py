"""Example consumer of the price feed contract: reads a pair and refuses stale, zero or incomplete answers.

Deploy with data = the feed contract's script hash. ``price(pair, maxAgeMs)`` returns the latest answer
(fixed point, see ``decimals``) and aborts when there is no round yet, the round is incomplete, the
answer is not positive, or the round was updated more than ``maxAgeMs`` milliseconds before the current
block time (the checks of ``contracts/lib/nsl_feeds.py``). ``recordPrice(pair, maxAgeMs)`` does the
same and stores the answer (``lastPrice``).
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160

from lib.nsl_feeds import latest_price

KEY_FEED = b"f"
KEY_PRICE = b"p"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslFeedConsumer"
    meta.description = "Example reader of Neo Service Layer price feeds"
    meta.add_permission(methods=["latestRoundData", "decimals"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update and data is not None:
        storage.put_uint160(KEY_FEED, cast(UInt160, data))


@public(safe=True)
def price(pair: str, maxAgeMs: int) -> int:
    """The latest answer of ``pair`` if it is positive and at most ``maxAgeMs`` old; aborts otherwise."""
    return latest_price(storage.get_uint160(KEY_FEED), pair, maxAgeMs)


@public(name="recordPrice")
def record_price(pair: str, maxAgeMs: int) -> int:
    """``price`` and store it as ``lastPrice``."""
    answer = latest_price(storage.get_uint160(KEY_FEED), pair, maxAgeMs)
    storage.put_int(KEY_PRICE, answer)
    return answer


@public(name="lastPrice", safe=True)
def last_price() -> int:
    return storage.get_int(KEY_PRICE)
