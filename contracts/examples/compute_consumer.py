"""Example consumer of the compute service: runs a registered function on chain and keeps what comes back.

Deploy with data = the compute service's script hash, prepay its fees by sending GAS to the service with
data = this contract's hash, then call ``requestCompute(functionId, args, userData)``. The service later
calls ``onComputeResult(requestId, code, result, userData)``; this contract keeps the last answer
(``lastResponse``) and each successful result by request id (``getResult``).
Built on the consumer library (``contracts/lib/nsl_compute.py``).
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, to_bytes

from lib.nsl_compute import only_compute_service, request_compute

KEY_OWNER = b"o"
KEY_SERVICE = b"s"
KEY_LAST = b"l"
PREFIX_RESULT = b"r"

ComputeAnswered = CreateNewEvent([("requestId", int), ("code", int)], "ComputeAnswered")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslComputeConsumer"
    meta.description = "Example consumer of the Neo Service Layer compute service"
    meta.add_permission(methods=["request"])
    return meta


@public
def _deploy(data: Any, update: bool):
    """data: the compute service script hash (or None: set it later with setService)."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    storage.put_uint160(KEY_OWNER, tx.sender)
    if data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="setService")
def set_service(service: UInt160):
    """Owner only: the compute service allowed to call back."""
    assert runtime.check_witness(storage.get_uint160(KEY_OWNER)), "only the owner may do this"
    storage.put_uint160(KEY_SERVICE, service)


@public(name="requestCompute")
def ask_compute(functionId: str, args: bytes, userData: bytes, gasForCallback: int) -> int:
    """Ask the compute service to run ``functionId`` on ``args``, giving ``onComputeResult`` up to
    ``gasForCallback`` GAS fractions (keeping a result costs 0.001 GAS a byte); returns the request id."""
    service = storage.get_uint160(KEY_SERVICE)
    return request_compute(service, functionId, args, "onComputeResult", gasForCallback, userData)


@public(name="onComputeResult")
def on_compute_result(requestId: int, code: int, result: bytes, userData: bytes):
    """Callback: only the service may call it. Keeps the answer; a result only when code == 0."""
    only_compute_service(storage.get_uint160(KEY_SERVICE))
    storage.put_list(KEY_LAST, [requestId, code, result, userData])
    if code == 0:
        storage.put(PREFIX_RESULT + to_bytes(requestId, 8), result)
    ComputeAnswered(requestId, code)


@public(name="lastResponse", safe=True)
def last_response() -> list:
    """[requestId, code, result, userData] of the last callback ([-1, -1, b'', b''] before any)."""
    if len(storage.get(KEY_LAST)) == 0:
        return [-1, -1, b"", b""]
    return cast(list, storage.get_list(KEY_LAST))


@public(name="getResult", safe=True)
def get_result(requestId: int) -> bytes:
    """The result received for ``requestId`` (b'' while pending or failed)."""
    return storage.get(PREFIX_RESULT + to_bytes(requestId, 8))
