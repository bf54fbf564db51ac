"""Test feed that answers whatever round it was given: lets a test hand a consumer rounds the real feed
contract never stores (fields missing, round 0, zero or negative answer, no update time).

``setRound(pair, round)`` stores ``round`` (any list) as ``latestRoundData(pair)``'s answer (``[]``
before any).
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.utils import to_bytes

PREFIX_ROUND = b"r"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslStubFeed"
    return meta


@public
def _deploy(data: Any, update: bool):
    pass


@public(name="setRound")
def set_round(pair: str, round: list):
    storage.put_list(PREFIX_ROUND + to_bytes(pair), round)


@public(name="latestRoundData", safe=True)
def latest_round_data(pair: str) -> list:
    if len(storage.get(PREFIX_ROUND + to_bytes(pair))) == 0:
        return []
    return cast(list, storage.get_list(PREFIX_ROUND + to_bytes(pair)))


@public(safe=True)
def decimals(pair: str) -> int:
    return 8
