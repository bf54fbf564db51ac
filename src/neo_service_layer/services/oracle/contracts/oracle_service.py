"""Oracle service: consumers prepay GAS, ask for a web value, and get it back in a callback.

Flow (see contracts/README.md and docs/oracle.md for the full rules and the exact byte encoding):

1. ``request(url, filter, callback, userData)`` from a consumer contract takes the fee from the consumer's
   prepaid balance and emits ``OracleRequested(requestId, consumer, url, filter)``. ``url`` is an
   ``https://`` URL fetched with GET, or ``nsl://template/<id>``: a request template (method, headers with
   tenant secrets, body) registered off chain by the tenant.
2. The enclave fetches, applies the JSONPath filter and signs with its secp256r1 oracle key
   ``"NSL-ORACLE-V2" || u32le(magic) || contract || u64le(requestId) || consumer || u32le(code) ||
   u64le(timestamp) || u32le(len(url)) || url || u32le(len(filter)) || filter || u32le(len(result)) ||
   result`` (64-byte r||s). ``magic`` is this network's (``Runtime.GetNetwork``), ``contract`` this
   contract's script hash and ``consumer`` the request's stored consumer (20 bytes as NeoVM stores them),
   so an answer signed for another network, deployment or consumer does not verify.
3. ``fulfill(requestId, code, result, timestamp, signature)`` checks that signature with CryptoLib and stores
   the response (state FULFILLED). It never calls the consumer, so no consumer can make it fail.
4. ``deliver(requestId)`` calls ``consumer.callback(requestId, code, result, userData)``. A THROW in the
   callback is caught: state CALLBACK_FAILED and ``CallbackFailed``. An ABORT/ASSERT cannot be caught in
   NeoVM: that ``deliver`` transaction faults and the stored response stays readable; the owner can record
   the failure with ``markCallbackFailed``.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, GasToken, LedgerContract
from boa3.sc.types import ECPoint, NamedCurveHash, Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes

# ---------------------------------------------------------------------------------------------------------
# constants

MESSAGE_TAG = b"NSL-ORACLE-V2"
MAX_URL = 512
MAX_FILTER = 256
MAX_USER_DATA = 512
MAX_RESULT = 65536
MAX_CODE = 255
MAX_CALLBACK_NAME = 64
MAX_REASON = 256
DEFAULT_FEE = 10_000_000  # 0.1 GAS
CODE_SUCCESS = 0

# request states
STATE_NONE = 0
STATE_PENDING = 1
STATE_FULFILLED = 2
STATE_DELIVERED = 3
STATE_CALLBACK_FAILED = 4

# storage keys
KEY_OWNER = b"o"
KEY_FEE = b"f"
KEY_PAUSED = b"p"
KEY_NEXT_ID = b"n"
KEY_COLLECTED = b"c"
KEY_VERSION = b"v"
KEY_PREV_CUTOFF = b"x"  # first request id the previous key may NOT sign for
KEY_PREV_DEADLINE = b"y"  # last block height at which the previous key is accepted
PREFIX_ECDSA = b"k"
PREFIX_BALANCE = b"B"
PREFIX_REQUEST = b"r"  # + u64le(id): [consumer, url, filter, callback, userData], written once
PREFIX_STATE = b"s"  # + u64le(id): request state
PREFIX_RESPONSE = b"R"  # + u64le(id): [code, result, timestamp, keyVersion], written once by fulfill
PREFIX_FAILURE = b"e"  # + u64le(id): why the callback failed

# request fields
F_CONSUMER = 0
F_URL = 1
F_FILTER = 2
F_CALLBACK = 3
F_USER_DATA = 4
# response fields
R_CODE = 0
R_RESULT = 1
R_TIMESTAMP = 2
R_KEY_VERSION = 3


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslOracleService"
    meta.description = "Neo Service Layer oracle service (enclave-signed web data)"
    meta.add_permission(contract="*", methods="*")  # consumer callbacks are arbitrary methods
    return meta


# ---------------------------------------------------------------------------------------------------------
# events

OracleRequested = CreateNewEvent(
    [("requestId", int), ("consumer", UInt160), ("url", str), ("filter", str)], "OracleRequested"
)
OracleFulfilled = CreateNewEvent([("requestId", int), ("code", int)], "OracleFulfilled")
OracleDelivered = CreateNewEvent([("requestId", int)], "OracleDelivered")
CallbackFailed = CreateNewEvent([("requestId", int), ("reason", str)], "CallbackFailed")
BalanceCredited = CreateNewEvent([("consumer", UInt160), ("amount", int)], "BalanceCredited")
KeyRotated = CreateNewEvent([("version", int), ("publicKey", bytes)], "KeyRotated")


# ---------------------------------------------------------------------------------------------------------
# helpers


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


def _owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


def _only_owner():
    assert runtime.check_witness(_owner()), "only the owner may do this"


def _install_key(public_key: bytes) -> int:
    assert len(public_key) == 33, "publicKey must be a 33-byte compressed secp256r1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "publicKey must be compressed"
    version = storage.get_int(KEY_VERSION) + 1
    storage.put_int(KEY_VERSION, version)
    storage.put(PREFIX_ECDSA + to_bytes(version), public_key)
    KeyRotated(version, public_key)
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


# ---------------------------------------------------------------------------------------------------------
# lifecycle


@public
def _deploy(data: Any, update: bool):
    """data: [owner, publicKey (33 bytes)], or None: owner = sender, no key until rotateKey."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    owner = tx.sender
    storage.put_int(KEY_FEE, DEFAULT_FEE)
    if data is not None:
        args = cast(list, data)
        owner = cast(UInt160, args[0])
        if len(args) >= 2:
            _install_key(cast(bytes, args[1]))
    assert len(owner) == 20, "owner must be a script hash"
    storage.put_uint160(KEY_OWNER, owner)


@public
def update(nef_file: bytes, manifest: bytes):
    """Owner only: replace the contract code (storage is kept)."""
    _only_owner()
    ContractManagement.update(nef_file, manifest)


@public
def destroy():
    """Owner only: remove the contract and its storage for good."""
    _only_owner()
    ContractManagement.destroy()


# ---------------------------------------------------------------------------------------------------------
# payments and balances


@public
def onNEP17Payment(from_address: UInt160 | None, amount: int, data: Any):
    """GAS only: credit the prepaid balance of ``data`` (a consumer script hash) or of the sender."""
    assert runtime.calling_script_hash == GasToken.hash, "only GAS is accepted"
    assert amount > 0, "amount must be positive"
    if data is None:
        if from_address is None:
            abort("a payment without sender must name the consumer in data")
        consumer = cast(UInt160, from_address)
    else:
        consumer = cast(UInt160, data)
    assert isinstance(consumer, UInt160), "data must be a 20-byte consumer script hash or null"
    key = PREFIX_BALANCE + consumer
    storage.put_int(key, storage.get_int(key) + amount)
    BalanceCredited(consumer, amount)


@public(name="balanceOf", safe=True)
def balance_of(consumer: UInt160) -> int:
    """Prepaid GAS balance of ``consumer`` (fractions)."""
    return storage.get_int(PREFIX_BALANCE + consumer)


@public(safe=True)
def fee() -> int:
    """Fee per request, in GAS fractions."""
    return storage.get_int(KEY_FEE)


@public(name="collectedFees", safe=True)
def collected_fees() -> int:
    """Fees taken from consumers and not yet withdrawn by the owner."""
    return storage.get_int(KEY_COLLECTED)


# ---------------------------------------------------------------------------------------------------------
# requests


@public
def request(url: str, filter: str, callback: str, userData: bytes) -> int:
    """Called by a consumer contract; returns the request id. The fee comes from its prepaid balance."""
    assert storage.get_int(KEY_PAUSED) == 0, "service is paused"
    assert len(url) > 0, "url is required"
    assert len(url) <= MAX_URL, "url must be at most 512 bytes"
    assert len(filter) <= MAX_FILTER, "filter must be at most 256 bytes"
    assert len(userData) <= MAX_USER_DATA, "userData must be at most 512 bytes"
    assert len(callback) > 0, "callback is required"
    assert len(callback) <= MAX_CALLBACK_NAME, "callback name is too long"
    assert callback[0] != "_", "callback must be a public method"
    consumer = runtime.calling_script_hash
    has_callback = ContractManagement.has_method(consumer, callback, 4)
    assert has_callback, "consumer must be a contract with callback(requestId, code, result, userData)"

    price = storage.get_int(KEY_FEE)
    balance_key = PREFIX_BALANCE + consumer
    balance = storage.get_int(balance_key)
    if balance < price:
        abort("insufficient prepaid balance: send GAS to the service with data = consumer script hash")
    storage.put_int(balance_key, balance - price)
    storage.put_int(KEY_COLLECTED, storage.get_int(KEY_COLLECTED) + price)

    request_id = storage.get_int(KEY_NEXT_ID)
    storage.put_int(KEY_NEXT_ID, request_id + 1)
    key = _id_bytes(request_id)
    storage.put_list(PREFIX_REQUEST + key, [consumer, url, filter, callback, userData])
    storage.put_int(PREFIX_STATE + key, STATE_PENDING)
    OracleRequested(request_id, consumer, url, filter)
    return request_id


@public
def fulfill(requestId: int, code: int, result: bytes, timestamp: int, signature: bytes):
    """Anyone may submit; valid only with the oracle key's signature. Stores the response, calls nobody."""
    assert _state(requestId) == STATE_PENDING, "request already fulfilled"
    assert code >= 0, "code must be between 0 and 255"
    assert code <= MAX_CODE, "code must be between 0 and 255"
    assert len(result) <= MAX_RESULT, "result must be at most 65536 bytes"
    assert code == CODE_SUCCESS or len(result) == 0, "only a successful response carries a result"
    assert timestamp >= 0, "timestamp must not be negative"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    record = _request(requestId)
    url = to_bytes(cast(str, record[F_URL]))
    filter_bytes = to_bytes(cast(str, record[F_FILTER]))
    message = (
        MESSAGE_TAG
        + _u32(runtime.get_network())
        + runtime.executing_script_hash
        + _id_bytes(requestId)
        + cast(UInt160, record[F_CONSUMER])
        + to_bytes(code, 4)
        + to_bytes(timestamp, 8)
        + _prefixed(url)
        + _prefixed(filter_bytes)
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

    storage.put_list(PREFIX_RESPONSE + _id_bytes(requestId), [code, result, timestamp, version])
    _set_state(requestId, STATE_FULFILLED)
    OracleFulfilled(requestId, code)


@public
def deliver(requestId: int) -> bool:
    """Anyone may call: run the consumer's callback. False (and CallbackFailed) if the callback threw."""
    state = _state(requestId)
    assert state != STATE_PENDING, "request not fulfilled yet"
    assert state != STATE_DELIVERED, "request already delivered"
    record = _request(requestId)
    response = _response(requestId)

    _set_state(requestId, STATE_DELIVERED)  # before the call: a re-entrant deliver is refused
    consumer = cast(UInt160, record[F_CONSUMER])
    callback = cast(str, record[F_CALLBACK])
    delivered = True
    try:
        call_contract(
            consumer, callback, [requestId, response[R_CODE], response[R_RESULT], record[F_USER_DATA]]
        )
    except Exception:
        delivered = False
    if delivered:
        OracleDelivered(requestId)
        return True
    _set_state(requestId, STATE_CALLBACK_FAILED)
    reason = "callback threw an exception"
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    CallbackFailed(requestId, reason)
    return False


@public(name="markCallbackFailed")
def mark_callback_failed(requestId: int, reason: str):
    """Owner only: record a callback that cannot even run (it ABORTs, faults or runs out of GAS)."""
    _only_owner()
    assert _state(requestId) == STATE_FULFILLED, "only a fulfilled, undelivered request can be marked"
    assert len(reason) <= MAX_REASON, "reason is too long"
    _set_state(requestId, STATE_CALLBACK_FAILED)
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    CallbackFailed(requestId, reason)


@public(name="getRequest", safe=True)
def get_request(requestId: int) -> list:
    """[state, consumer, url, filter, userData]; state 0 for an unknown id."""
    state = storage.get_int(PREFIX_STATE + _id_bytes(requestId))
    if state == STATE_NONE:
        return [STATE_NONE, None, "", "", b""]
    record = _request(requestId)
    return [state, record[F_CONSUMER], record[F_URL], record[F_FILTER], record[F_USER_DATA]]


@public(name="getResponse", safe=True)
def get_response(requestId: int) -> list:
    """[code, result, timestamp, keyVersion] of a fulfilled request ([-1, b'', 0, 0] before)."""
    if _state(requestId) < STATE_FULFILLED:
        return [-1, b"", 0, 0]
    response = _response(requestId)
    return [response[R_CODE], response[R_RESULT], response[R_TIMESTAMP], response[R_KEY_VERSION]]


@public(name="getCallbackFailure", safe=True)
def get_callback_failure(requestId: int) -> str:
    """Why the callback failed ('' if it did not)."""
    return storage.get_str(PREFIX_FAILURE + _id_bytes(requestId))


# ---------------------------------------------------------------------------------------------------------
# keys


@public(name="publicKey", safe=True)
def public_key() -> bytes:
    """Current 33-byte compressed secp256r1 oracle key (b'' before any key is set)."""
    return storage.get(PREFIX_ECDSA + to_bytes(storage.get_int(KEY_VERSION)))


@public(name="keyInfo", safe=True)
def key_info() -> list:
    """[version, previousKeyCutoffRequestId, previousKeyDeadlineHeight]."""
    version = storage.get_int(KEY_VERSION)
    return [version, storage.get_int(KEY_PREV_CUTOFF), storage.get_int(KEY_PREV_DEADLINE)]


@public(name="rotateKey")
def rotate_key(newKey: bytes, graceBlocks: int) -> int:
    """Owner only: install a new oracle key; returns its version.

    The previous key still fulfils requests made before the rotation (id < cutoff) until block height
    current + graceBlocks; older keys are retired. graceBlocks = 0 retires the previous key at once.
    """
    _only_owner()
    assert graceBlocks >= 0, "graceBlocks must not be negative"
    storage.put_int(KEY_PREV_CUTOFF, storage.get_int(KEY_NEXT_ID))
    if graceBlocks == 0:
        storage.put_int(KEY_PREV_DEADLINE, -1)
    else:
        storage.put_int(KEY_PREV_DEADLINE, LedgerContract.get_current_index() + graceBlocks)
    return _install_key(newKey)


# ---------------------------------------------------------------------------------------------------------
# owner


@public(safe=True)
def owner() -> UInt160:
    return _owner()


@public(name="setFee")
def set_fee(amount: int):
    """Owner only: fee per request in GAS fractions."""
    _only_owner()
    assert amount >= 0, "fee must not be negative"
    storage.put_int(KEY_FEE, amount)


@public
def withdraw(to: UInt160, amount: int) -> bool:
    """Owner only: send collected fees (never consumers' prepaid balances) to ``to``."""
    _only_owner()
    assert amount > 0, "amount must be positive"
    collected = storage.get_int(KEY_COLLECTED)
    assert amount <= collected, "amount exceeds collected fees"
    storage.put_int(KEY_COLLECTED, collected - amount)
    assert GasToken.transfer(runtime.executing_script_hash, to, amount, None), "GAS transfer failed"
    return True


@public
def pause():
    """Owner only: refuse new requests (fulfilment and delivery of existing ones continue)."""
    _only_owner()
    storage.put_int(KEY_PAUSED, 1)


@public
def unpause():
    """Owner only."""
    _only_owner()
    storage.put_int(KEY_PAUSED, 0)


@public(name="isPaused", safe=True)
def is_paused() -> bool:
    return storage.get_int(KEY_PAUSED) != 0
