"""Compute service: consumers prepay GAS, ask for a registered function to run on their arguments, and
get its result back in a callback (``docs/compute.md``; the signed bytes are ``answer_message`` in
``enclave/wire/compute.py``, mirrored here).

1. ``request(functionId, args, callback, gasForCallback, userData)`` (a consumer contract) moves the price
   (``feeFor(gasForCallback)``: base fee + the GAS its callback may burn + byte price x maximum result
   size) from the consumer's balance into the request's escrow and emits
   ``ComputeRequested(requestId, consumer, functionId, args)``.
2. The enclave runs the function and signs ``"NSL-COMPUTE-V1" || u32le(magic) || contract ||
   u64le(requestId) || consumer || u32le(code) || u64le(timestamp) || u32le(len(functionId)) ||
   functionId || functionHash || u32le(len(args)) || args || u32le(len(result)) || result`` (r||s).
3. ``fulfill(requestId, code, result, timestamp, functionHash, signature)`` checks it against the stored
   request and stores the response; the escrow is earned but for the unused result bytes (back to the
   balance). Anyone may refund a request still pending ``refundBlocks()`` after it was made.
4. ``deliver(requestId)`` calls ``consumer.callback(requestId, code, result, userData)``: a THROW is
   caught (CALLBACK_FAILED); an ABORT, or more than ``callbackGasCap()`` GAS burnt, faults the delivery
   and the operator records it with ``markCallbackFailed``.
Results are at most 65280 bytes, so a fulfil script (65535 bytes at most) carries one; args at most 896,
so ``ComputeRequested`` stays under the 1024-byte notification limit (with a 64-byte functionId).
Roles, delay, pause: ``kernel/chain/contracts/service_admin.py``; fees: ``service_funds.py``.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, LedgerContract
from boa3.sc.types import ECPoint, NamedCurveHash, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes

# imported @public methods become this contract's; service_funds first (contracts/README.md says why)
# fmt: off
# isort: off
from neo_service_layer.kernel.chain.contracts.service_funds import (
    KEY_GAS_CAP, balance_of, base_fee, callback_gas_cap, collected_fees, escrow_fee, escrow_of, escrowed_fees,
    init_funds, measure_callback_end, measure_callback_start, onNEP17Payment, refund_blocks, refund_fee,
    set_callback_gas_cap, set_fee, settle_fee, withdraw, withdraw_fees,
)
from neo_service_layer.kernel.chain.contracts.service_admin import (
    cancel_destroy, cancel_update, destroy, init_admin, is_paused, not_paused, only_operator, only_owner,
    operator, owner, pause, schedule_destroy, schedule_update, scheduled_destroy, scheduled_update,
    set_operator, unpause, update, update_delay,
)
# isort: on
# fmt: on

MESSAGE_TAG = b"NSL-COMPUTE-V1"
MAX_FUNCTION_ID = 64
MAX_ARGS = 896
MAX_USER_DATA = 512
MAX_RESULT = 65280  # 0xFF00: room for the other fulfill arguments in a 65535-byte script
HASH_BYTES = 32
MAX_CODE = 255
MAX_CALLBACK_NAME = 64
MAX_REASON = 256
CODE_SUCCESS = 0
DEFAULT_BYTE_PRICE = 100_000  # 0.001 GAS per result byte: what storing it costs at the default price
DEFAULT_MAX_RESULT = 1024
DEFAULT_CALLBACK_GAS_CAP = 200_000_000  # 2 GAS: the most a request may give its callback, by default
MIN_GAS_FOR_CALLBACK = 1_000_000  # 0.01 GAS

# request states
STATE_NONE = 0
STATE_PENDING = 1
STATE_FULFILLED = 2
STATE_DELIVERED = 3
STATE_CALLBACK_FAILED = 4
STATE_REFUNDED = 5

# storage keys (the libraries' keys start with "_")
KEY_NEXT_ID = b"n"
KEY_BYTE_PRICE = b"P"
KEY_MAX_RESULT = b"M"
KEY_VERSION = b"v"
KEY_PREV_CUTOFF = b"x"  # first request id the previous key may NOT sign for
KEY_PREV_DEADLINE = b"y"  # last block height at which the previous key is accepted
PREFIX_ECDSA = b"k"  # + to_bytes(version): the 33-byte compressed key
# + u64le(id): [consumer, functionId, args, callback, userData, maxResult, bytePrice, gasCap], written once
PREFIX_REQUEST = b"r"
PREFIX_STATE = b"s"  # + u64le(id): request state
PREFIX_RESPONSE = b"R"  # + u64le(id): [code, timestamp, keyVersion, functionHash], written once by fulfill
PREFIX_RESULT = b"O"  # + u64le(id): the result bytes (absent when empty), written once by fulfill
PREFIX_FAILURE = b"e"  # + u64le(id): why the callback failed

# request fields, then response fields
F_CONSUMER = 0
F_FUNCTION_ID = 1
F_ARGS = 2
F_CALLBACK = 3
F_USER_DATA = 4
F_MAX_RESULT = 5
F_BYTE_PRICE = 6
F_GAS_CAP = 7
R_CODE = 0
R_TIMESTAMP = 1
R_KEY_VERSION = 2
R_FUNCTION_HASH = 3


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslComputeService"
    meta.description = "Neo Service Layer compute service (enclave-run, signed function results)"
    meta.add_permission(contract="*", methods="*")  # consumer callbacks are arbitrary methods
    return meta


ComputeRequested = CreateNewEvent(
    [("requestId", int), ("consumer", UInt160), ("functionId", str), ("args", bytes)], "ComputeRequested"
)
ComputeFulfilled = CreateNewEvent(
    [("requestId", int), ("code", int), ("functionHash", bytes)], "ComputeFulfilled"
)
ComputeDelivered = CreateNewEvent([("requestId", int)], "ComputeDelivered")
ComputeCallbackFailed = CreateNewEvent([("requestId", int), ("reason", str)], "ComputeCallbackFailed")
ComputeKeyRotated = CreateNewEvent([("version", int), ("publicKey", bytes)], "ComputeKeyRotated")


def _id_bytes(request_id: int) -> bytes:
    return to_bytes(request_id, 8)


def _state(request_id: int) -> int:
    """State of a request; aborts for an unknown id."""
    state = storage.get_int(PREFIX_STATE + _id_bytes(request_id))
    if state == STATE_NONE:
        abort("unknown request")
    return state


def _set_state(request_id: int, state: int):
    storage.put_int(PREFIX_STATE + _id_bytes(request_id), state)


def _request(request_id: int) -> list:
    return cast(list, storage.get_list(PREFIX_REQUEST + _id_bytes(request_id)))


def _response(request_id: int) -> list:
    return cast(list, storage.get_list(PREFIX_RESPONSE + _id_bytes(request_id)))


def _install_key(public_key: bytes) -> int:
    assert len(public_key) == 33, "publicKey must be a 33-byte compressed secp256r1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "publicKey must be compressed"
    version = storage.get_int(KEY_VERSION) + 1
    storage.put_int(KEY_VERSION, version)
    storage.put(PREFIX_ECDSA + to_bytes(version), public_key)
    ComputeKeyRotated(version, public_key)
    return version


def _verify(version: int, message: bytes, signature: bytes) -> bool:
    if version <= 0:
        return False
    key = storage.get(PREFIX_ECDSA + to_bytes(version))
    if len(key) == 0:
        return False
    return CryptoLib.verify_with_ecdsa(message, ECPoint(key), signature, NamedCurveHash.SECP256R1SHA256)


def _prefixed(value: bytes) -> bytes:
    return to_bytes(len(value), 4) + value


def _u32(value: int) -> bytes:
    """``u32le(value)`` for 0 <= value < 2^32 (to_bytes is signed: pad past the sign bit, keep 4 bytes)."""
    return to_bytes(value + 0x100000000, 5)[:4]


@public
def _deploy(data: Any, update: bool):
    """data: [owner, operator, updateDelay, refundBlocks, publicKey (33 bytes)]; a missing entry (or
    None): owner and operator = sender, default delay and refund timeout, no key until ``rotateKey``."""
    if not update:
        _setup(data)


def _setup(data: Any):
    """``_deploy``'s work (neo3-boa 1.5 drops ``args = ...`` assignments inside ``_deploy`` itself)."""
    args = cast(list, [])
    if isinstance(data, list):
        args = data
    init_admin(args, 0)
    init_funds(args, 3)
    # a callback keeps a compute result, often hundreds of bytes at 0.001 GAS each: more room than the
    # library's 0.5 GAS default (the owner changes it with setCallbackGasCap)
    storage.put_int(KEY_GAS_CAP, DEFAULT_CALLBACK_GAS_CAP)
    storage.put_int(KEY_BYTE_PRICE, DEFAULT_BYTE_PRICE)
    storage.put_int(KEY_MAX_RESULT, DEFAULT_MAX_RESULT)
    if len(args) >= 5:
        _install_key(cast(bytes, args[4]))


@public(safe=True)
def fee() -> int:
    """Price of a request asking the whole callback GAS cap: ``feeFor(callbackGasCap())``."""
    return fee_for(callback_gas_cap())


@public(name="feeFor", safe=True)
def fee_for(gasForCallback: int) -> int:
    """Price of a request in GAS fractions: base fee + the GAS it gives its callback + byte price x
    maximum result size (the unused bytes' part goes back to the consumer's balance at fulfilment)."""
    return base_fee() + gasForCallback + storage.get_int(KEY_BYTE_PRICE) * storage.get_int(KEY_MAX_RESULT)


@public(name="resultPricing", safe=True)
def result_pricing() -> list:
    """[bytePrice, maxResult]: GAS fractions per result byte, largest result a new request allows."""
    return [storage.get_int(KEY_BYTE_PRICE), storage.get_int(KEY_MAX_RESULT)]


@public(name="setResultPricing")
def set_result_pricing(bytePrice: int, maxResult: int):
    """Owner only: the byte price and maximum result size of later requests."""
    only_owner()
    assert bytePrice >= 0, "bytePrice must not be negative"
    assert maxResult >= 1, "maxResult must be between 1 and 65280"
    assert maxResult <= MAX_RESULT, "maxResult must be between 1 and 65280"
    storage.put_int(KEY_BYTE_PRICE, bytePrice)
    storage.put_int(KEY_MAX_RESULT, maxResult)


@public
def request(functionId: str, args: bytes, callback: str, gasForCallback: int, userData: bytes) -> int:
    """Called by a consumer contract; returns the request id. ``gasForCallback`` (at least 0.01 GAS, at
    most ``callbackGasCap()``) is what its callback may burn; the fee (``feeFor(gasForCallback)``) comes
    from its prepaid balance."""
    not_paused()
    assert gasForCallback >= MIN_GAS_FOR_CALLBACK, "gasForCallback must be at least 0.01 GAS"
    assert gasForCallback <= callback_gas_cap(), "gasForCallback is above the callback GAS cap"
    function_id_size = len(to_bytes(functionId))  # UTF-8 bytes: len(str) counts characters
    assert function_id_size > 0, "functionId is required"
    assert function_id_size <= MAX_FUNCTION_ID, "functionId must be at most 64 bytes"
    assert len(args) <= MAX_ARGS, "args must be at most 896 bytes"
    assert len(userData) <= MAX_USER_DATA, "userData must be at most 512 bytes"
    assert len(callback) > 0, "callback is required"
    assert len(callback) <= MAX_CALLBACK_NAME, "callback name is too long"
    assert callback[0] != "_", "callback must be a public method"
    consumer = runtime.calling_script_hash
    has_callback = ContractManagement.has_method(consumer, callback, 4)
    assert has_callback, "consumer must be a contract with callback(requestId, code, result, userData)"

    request_id = storage.get_int(KEY_NEXT_ID)
    storage.put_int(KEY_NEXT_ID, request_id + 1)
    escrow_fee(consumer, request_id, fee_for(gasForCallback))
    key = _id_bytes(request_id)
    max_result = storage.get_int(KEY_MAX_RESULT)
    byte_price = storage.get_int(KEY_BYTE_PRICE)
    storage.put_list(
        PREFIX_REQUEST + key,
        [consumer, functionId, args, callback, userData, max_result, byte_price, gasForCallback],
    )
    storage.put_int(PREFIX_STATE + key, STATE_PENDING)
    ComputeRequested(request_id, consumer, functionId, args)
    return request_id


@public
def fulfill(requestId: int, code: int, result: bytes, timestamp: int, functionHash: bytes, signature: bytes):
    """Anyone may submit; valid only with the compute key's signature. Stores the response, calls nobody."""
    assert _state(requestId) == STATE_PENDING, "request is not pending (fulfilled or refunded)"
    assert code >= 0, "code must be between 0 and 255"
    assert code <= MAX_CODE, "code must be between 0 and 255"
    assert len(result) <= MAX_RESULT, "result must be at most 65280 bytes"
    assert code == CODE_SUCCESS or len(result) == 0, "only a successful response carries a result"
    assert timestamp >= 0, "timestamp must not be negative"
    assert len(functionHash) == HASH_BYTES, "functionHash must be 32 bytes"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    record = _request(requestId)
    max_result = cast(int, record[F_MAX_RESULT])
    assert len(result) <= max_result, "result is longer than the request's maximum"
    message = (
        MESSAGE_TAG
        + _u32(runtime.get_network())
        + runtime.executing_script_hash
        + _id_bytes(requestId)
        + cast(UInt160, record[F_CONSUMER])
        + to_bytes(code, 4)
        + to_bytes(timestamp, 8)
        + _prefixed(to_bytes(cast(str, record[F_FUNCTION_ID])))
        + functionHash
        + _prefixed(cast(bytes, record[F_ARGS]))
        + _prefixed(result)
    )

    version = storage.get_int(KEY_VERSION)
    if not _verify(version, message, signature):
        previous_allowed = requestId < storage.get_int(
            KEY_PREV_CUTOFF
        ) and LedgerContract.get_current_index() <= storage.get_int(KEY_PREV_DEADLINE)
        if previous_allowed and _verify(version - 1, message, signature):
            version = version - 1
        else:
            abort("invalid signature")

    key = _id_bytes(requestId)
    storage.put_list(PREFIX_RESPONSE + key, [code, timestamp, version, functionHash])
    if len(result) > 0:
        storage.put(PREFIX_RESULT + key, result)
    _set_state(requestId, STATE_FULFILLED)
    unused = (max_result - len(result)) * cast(int, record[F_BYTE_PRICE])
    settle_fee(cast(UInt160, record[F_CONSUMER]), requestId, unused)
    ComputeFulfilled(requestId, code, functionHash)


@public
def deliver(requestId: int) -> bool:
    """Anyone may call: run the consumer's callback. False (and ComputeCallbackFailed) if it threw."""
    state = _state(requestId)
    assert state != STATE_PENDING, "request not fulfilled yet"
    assert state != STATE_DELIVERED, "request already delivered"
    assert state != STATE_REFUNDED, "request was refunded"
    record = _request(requestId)
    code = _response(requestId)[R_CODE]
    result = storage.get(PREFIX_RESULT + _id_bytes(requestId))

    _set_state(requestId, STATE_DELIVERED)  # before the call: a re-entrant deliver is refused
    consumer = cast(UInt160, record[F_CONSUMER])
    callback = cast(str, record[F_CALLBACK])
    delivered = True
    start = measure_callback_start()
    try:
        call_contract(consumer, callback, [requestId, code, result, record[F_USER_DATA]])
    except Exception:
        delivered = False
    measure_callback_end(start, cast(int, record[F_GAS_CAP]))
    if delivered:
        ComputeDelivered(requestId)
        return True
    _set_state(requestId, STATE_CALLBACK_FAILED)
    reason = "callback threw an exception"
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    ComputeCallbackFailed(requestId, reason)
    return False


@public(name="markCallbackFailed")
def mark_callback_failed(requestId: int, reason: str):
    """Operator only: record a callback that cannot even run (it ABORTs, faults or exceeds the GAS cap)."""
    only_operator()
    assert _state(requestId) == STATE_FULFILLED, "only a fulfilled, undelivered request can be marked"
    assert len(reason) <= MAX_REASON, "reason is too long"
    _set_state(requestId, STATE_CALLBACK_FAILED)
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    ComputeCallbackFailed(requestId, reason)


@public
def refund(requestId: int):
    """Anyone: a request still pending ``refundBlocks()`` blocks after it was made gets its fee back
    on its consumer's balance and can no longer be fulfilled."""
    assert _state(requestId) == STATE_PENDING, "only a pending request can be refunded"
    refund_fee(cast(UInt160, _request(requestId)[F_CONSUMER]), requestId)
    _set_state(requestId, STATE_REFUNDED)


@public(name="getRequest", safe=True)
def get_request(requestId: int) -> list:
    """[state, consumer, functionId, args, userData, maxResult]; state 0 for an unknown id, 5 once
    refunded. maxResult: the longest result the request paid for (a longer one is refused)."""
    state = storage.get_int(PREFIX_STATE + _id_bytes(requestId))
    if state == STATE_NONE:
        return [STATE_NONE, None, "", b"", b"", 0]
    r = _request(requestId)
    return [state, r[F_CONSUMER], r[F_FUNCTION_ID], r[F_ARGS], r[F_USER_DATA], r[F_MAX_RESULT]]


@public(name="getResponse", safe=True)
def get_response(requestId: int) -> list:
    """[code, result, timestamp, keyVersion, functionHash] of a fulfilled request ([-1, b'', 0, 0, b'']
    before)."""
    state = _state(requestId)
    if state < STATE_FULFILLED or state == STATE_REFUNDED:
        return [-1, b"", 0, 0, b""]
    res = _response(requestId)
    result = storage.get(PREFIX_RESULT + _id_bytes(requestId))
    return [res[R_CODE], result, res[R_TIMESTAMP], res[R_KEY_VERSION], res[R_FUNCTION_HASH]]


@public(name="getCallbackFailure", safe=True)
def get_callback_failure(requestId: int) -> str:
    """Why the callback failed ('' if it did not)."""
    return storage.get_str(PREFIX_FAILURE + _id_bytes(requestId))


@public(name="publicKey", safe=True)
def public_key() -> bytes:
    """Current 33-byte compressed secp256r1 compute key (b'' before any key is set)."""
    return storage.get(PREFIX_ECDSA + to_bytes(storage.get_int(KEY_VERSION)))


@public(name="keyInfo", safe=True)
def key_info() -> list:
    """[version, previousKeyCutoffRequestId, previousKeyDeadlineHeight]."""
    version = storage.get_int(KEY_VERSION)
    return [version, storage.get_int(KEY_PREV_CUTOFF), storage.get_int(KEY_PREV_DEADLINE)]


@public(name="rotateKey")
def rotate_key(newKey: bytes, graceBlocks: int) -> int:
    """Owner only: install a new compute key; returns its version.

    The previous key still fulfils requests made before the rotation (id < cutoff) until block height
    current + graceBlocks; older keys are retired. graceBlocks = 0 retires the previous key at once.
    """
    only_owner()
    assert graceBlocks >= 0, "graceBlocks must not be negative"
    storage.put_int(KEY_PREV_CUTOFF, storage.get_int(KEY_NEXT_ID))
    if graceBlocks == 0:
        storage.put_int(KEY_PREV_DEADLINE, -1)
    else:
        storage.put_int(KEY_PREV_DEADLINE, LedgerContract.get_current_index() + graceBlocks)
    return _install_key(newKey)
