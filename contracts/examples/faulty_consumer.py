"""Test consumer whose callback misbehaves on demand (proves the faulting-callback rule).

mode 0: accept (records the words); 1: write storage then THROW (catchable by the service);
2: ABORT (uncatchable in NeoVM: the delivering transaction faults).
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import abort

from lib.nsl_randomness import only_randomness_service, request_randomness

KEY_SERVICE = b"s"
KEY_MODE = b"m"
KEY_CALLS = b"c"
KEY_WORDS = b"w"
KEY_USER_DATA = b"u"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslFaultyConsumer"
    meta.add_permission(methods=["request"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update and data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="setMode")
def set_mode(mode: int):
    storage.put_int(KEY_MODE, mode)


@public(name="requestRandom")
def request_random(numWords: int, userData: bytes) -> int:
    return request_randomness(storage.get_uint160(KEY_SERVICE), numWords, "onRandomness", userData)


@public(name="requestWithCallback")
def request_with_callback(numWords: int, callback: str) -> int:
    return request_randomness(storage.get_uint160(KEY_SERVICE), numWords, callback, b"")


@public(name="onRandomness")
def on_randomness(requestId: int, words: list, userData: bytes):
    only_randomness_service(storage.get_uint160(KEY_SERVICE))
    storage.put_int(KEY_CALLS, storage.get_int(KEY_CALLS) + 1)
    mode = storage.get_int(KEY_MODE)
    if mode == 1:
        raise Exception("faulty consumer throws")
    if mode == 2:
        abort("faulty consumer aborts")
    storage.put_list(KEY_WORDS, words)
    storage.put(KEY_USER_DATA, userData)


@public(safe=True)
def calls() -> int:
    """How many callbacks completed (a thrown callback's write is rolled back)."""
    return storage.get_int(KEY_CALLS)


@public(name="lastWords", safe=True)
def last_words() -> list:
    return storage.get_list(KEY_WORDS)


@public(name="lastUserData", safe=True)
def last_user_data() -> bytes:
    return storage.get(KEY_USER_DATA)
