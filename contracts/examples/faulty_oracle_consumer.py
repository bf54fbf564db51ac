"""Test consumer of the oracle service whose callback misbehaves on demand.

mode 0: accept (records code, result and userData); 1: write storage then THROW (catchable by the
service); 2: ABORT (uncatchable in NeoVM: the delivering transaction faults).
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import abort

from lib.nsl_oracle import only_oracle_service, request_oracle

KEY_SERVICE = b"s"
KEY_MODE = b"m"
KEY_CALLS = b"c"
KEY_CODE = b"k"
KEY_RESULT = b"r"
KEY_USER_DATA = b"u"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslFaultyOracleConsumer"
    meta.add_permission(methods=["request"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update and data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="setMode")
def set_mode(mode: int):
    storage.put_int(KEY_MODE, mode)


@public(name="requestData")
def request_data(url: str, filter: str, userData: bytes) -> int:
    return request_oracle(storage.get_uint160(KEY_SERVICE), url, filter, "onOracleResponse", userData)


@public(name="requestWithCallback")
def request_with_callback(url: str, callback: str) -> int:
    return request_oracle(storage.get_uint160(KEY_SERVICE), url, "", callback, b"")


@public(name="onOracleResponse")
def on_oracle_response(requestId: int, code: int, result: bytes, userData: bytes):
    only_oracle_service(storage.get_uint160(KEY_SERVICE))
    storage.put_int(KEY_CALLS, storage.get_int(KEY_CALLS) + 1)
    mode = storage.get_int(KEY_MODE)
    if mode == 1:
        raise Exception("faulty consumer throws")
    if mode == 2:
        abort("faulty consumer aborts")
    storage.put_int(KEY_CODE, code)
    storage.put(KEY_RESULT, result)
    storage.put(KEY_USER_DATA, userData)


@public(safe=True)
def calls() -> int:
    """How many callbacks completed (a thrown callback's write is rolled back)."""
    return storage.get_int(KEY_CALLS)


@public(name="lastCode", safe=True)
def last_code() -> int:
    return storage.get_int(KEY_CODE)


@public(name="lastResult", safe=True)
def last_result() -> bytes:
    return storage.get(KEY_RESULT)


@public(name="lastUserData", safe=True)
def last_user_data() -> bytes:
    return storage.get(KEY_USER_DATA)
