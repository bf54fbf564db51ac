"""Randomness for neo3-boa consumers: one call asks the randomness service, one checks its callback.

The service calls back ``<callback>(requestId: int, words: list, userData: bytes)``; start that method
with ``only_randomness_service(service)``.
"""

from typing import cast

from boa3.sc.types import UInt160
from boa3.sc.utils import call_contract

from lib.nsl_service import only_service, require_service


def request_randomness(service: UInt160, num_words: int, callback: str, user_data: bytes) -> int:
    """Ask ``service`` for ``num_words`` random words (1..100), paid from this contract's prepaid
    balance there; returns the request id. Needs the permission to call the service's ``request``."""
    return cast(int, call_contract(require_service(service), "request", [num_words, callback, user_data]))


def only_randomness_service(service: UInt160):
    """FAULT (``only the randomness service``) unless ``service`` is calling."""
    only_service(service, "only the randomness service")


def random_below(word: int, bound: int) -> int:
    """A word reduced to ``0 .. bound - 1`` (words are uniform below 2**255; the bias is negligible for a
    bound far below that)."""
    assert bound > 0, "bound must be positive"
    return word % bound
