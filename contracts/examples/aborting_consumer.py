"""Test consumer that asks for randomness and then aborts in the same transaction.

``requestThenAbort`` calls the service's ``request`` (which emits ``RandomnessRequested``) and then
ABORTs: the transaction FAULTs, every state change (the stored request, the fee, the next request id)
is rolled back, yet the application log still lists the notification. The service must never treat it
as a request (proves the watcher's HALT-only rule end to end).
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import abort

from lib.nsl_randomness import only_randomness_service, request_randomness

KEY_SERVICE = b"s"
KEY_CALLS = b"c"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslAbortingConsumer"
    meta.add_permission(methods=["request"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update and data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="requestThenAbort")
def request_then_abort(numWords: int) -> int:
    """Request randomness, then ABORT: the request's event is in the log of a FAULTed transaction."""
    request_id = request_randomness(storage.get_uint160(KEY_SERVICE), numWords, "onRandomness", b"x")
    abort("consumer aborts after requesting")
    return request_id


@public(name="onRandomness")
def on_randomness(requestId: int, words: list, userData: bytes):
    """Counts callbacks (there must be none: no request of this contract ever completed)."""
    only_randomness_service(storage.get_uint160(KEY_SERVICE))
    storage.put_int(KEY_CALLS, storage.get_int(KEY_CALLS) + 1)


@public(safe=True)
def calls() -> int:
    return storage.get_int(KEY_CALLS)
