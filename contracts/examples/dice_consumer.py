"""Example consumer of the randomness service: a die roll.

Deploy with data = the randomness service's script hash, prepay its fees by sending GAS to the service
with data = this contract's hash, then call ``roll()``. The service later calls ``onRandomness``.
Built on the consumer library (``contracts/lib``): ``request_randomness`` and ``only_randomness_service``.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, call_contract, to_bytes

from lib.nsl_randomness import only_randomness_service, random_below, request_randomness
from lib.nsl_service import require_service

KEY_OWNER = b"o"
KEY_SERVICE = b"s"
KEY_LAST = b"l"
KEY_PENDING = b"p"
PREFIX_ROLL = b"r"

Rolled = CreateNewEvent([("requestId", int), ("result", int)], "Rolled")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslDiceConsumer"
    meta.description = "Example consumer of the Neo Service Layer randomness service"
    meta.add_permission(methods=["request", "withdraw"])
    return meta


@public
def _deploy(data: Any, update: bool):
    """data: the randomness service script hash (or None: set it later with setService)."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    storage.put_uint160(KEY_OWNER, tx.sender)
    if data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="setService")
def set_service(service: UInt160):
    """Owner only: the randomness service allowed to call back."""
    assert runtime.check_witness(storage.get_uint160(KEY_OWNER)), "only the owner may do this"
    storage.put_uint160(KEY_SERVICE, service)


@public
def withdraw(to: UInt160, amount: int) -> bool:
    """Owner only: take the dice's prepaid GAS back from the service (the service checks that the
    consumer itself asks: this contract's call is its witness)."""
    assert runtime.check_witness(storage.get_uint160(KEY_OWNER)), "only the owner may do this"
    service = require_service(storage.get_uint160(KEY_SERVICE))
    return cast(bool, call_contract(service, "withdraw", [runtime.executing_script_hash, to, amount]))


@public
def roll() -> int:
    """Ask the service for one random word; returns the request id."""
    request_id = request_randomness(storage.get_uint160(KEY_SERVICE), 1, "onRandomness", b"dice")
    storage.put_int(KEY_PENDING, request_id)
    return request_id


@public(name="onRandomness")
def on_randomness(requestId: int, words: list, userData: bytes):
    """Callback: only the service may call it. Stores die = words[0] mod 6 + 1."""
    only_randomness_service(storage.get_uint160(KEY_SERVICE))
    result = random_below(cast(int, words[0]), 6) + 1
    storage.put_int(PREFIX_ROLL + to_bytes(requestId, 8), result)
    storage.put_int(KEY_LAST, result)
    Rolled(requestId, result)


@public(name="lastRoll", safe=True)
def last_roll() -> int:
    """The last die result (0 before any)."""
    return storage.get_int(KEY_LAST)


@public(name="getRoll", safe=True)
def get_roll(requestId: int) -> int:
    """The die result of ``requestId`` (0 while pending)."""
    return storage.get_int(PREFIX_ROLL + to_bytes(requestId, 8))


@public(name="pendingRequest", safe=True)
def pending_request() -> int:
    """Id of the last request made by ``roll``."""
    return storage.get_int(KEY_PENDING)
