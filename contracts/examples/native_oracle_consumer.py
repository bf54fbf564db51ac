"""Example consumer of Neo's native Oracle contract (no Neo Service Layer contract involved).

``request(url, filter, tag, gasForResponse)`` calls ``Oracle.request`` with ``onOracleResponse`` as the
callback and ``tag`` as user data; ``requestMany`` makes ``count`` requests (tags ``first`` ..
``first + count - 1``) in one transaction. The callback accepts calls from the native Oracle only, keeps
the last code and result, counts the answers and emits ``Answered(tag, code, result)``.
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import OracleContract
from boa3.sc.utils import CreateNewEvent, call_contract

from lib.nsl_service import only_service

KEY_RESULT = b"r"
KEY_CODE = b"c"
KEY_COUNT = b"n"

Answered = CreateNewEvent([("tag", int), ("code", int), ("result", bytes)], "Answered")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslNativeOracleConsumer"
    meta.description = "Example consumer of Neo's native Oracle contract"
    meta.add_permission(contract="0xfe924b7cfe89ddd271abaf7210a80a7e11178758", methods=["request"])
    return meta


def _request(url: str, filter: str, tag: int, gas_for_response: int):
    chosen: str | None = None
    if len(filter) > 0:
        chosen = filter
    # through call_contract: neo3-boa 1.5 types OracleContract.request's filter as str, but null is valid
    call_contract(OracleContract.hash, "request", [url, chosen, "onOracleResponse", tag, gas_for_response])


@public
def request(url: str, filter: str, tag: int, gasForResponse: int):
    """Ask the native Oracle for ``filter`` (empty: none) applied to ``url``."""
    _request(url, filter, tag, gasForResponse)


@public(name="requestMany")
def request_many(url: str, filter: str, first: int, count: int, gasForResponse: int):
    """``count`` requests in one transaction, tagged ``first`` .. ``first + count - 1``."""
    for i in range(count):
        _request(url, filter, first + i, gasForResponse)


@public(name="onOracleResponse")
def on_oracle_response(url: str, userData: Any, code: int, result: bytes):
    """The native Oracle's callback."""
    only_service(OracleContract.hash, "only the native Oracle")
    storage.put_int(KEY_CODE, code)
    storage.put(KEY_RESULT, result)
    storage.put_int(KEY_COUNT, storage.get_int(KEY_COUNT) + 1)
    Answered(cast(int, userData), code, result)


@public(name="lastResult", safe=True)
def last_result() -> bytes:
    return storage.get(KEY_RESULT)


@public(name="lastCode", safe=True)
def last_code() -> int:
    return storage.get_int(KEY_CODE)


@public(safe=True)
def answers() -> int:
    return storage.get_int(KEY_COUNT)
