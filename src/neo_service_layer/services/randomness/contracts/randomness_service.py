"""Randomness service: consumers prepay GAS, request random words, and get them back in a callback.

Flow (rules and exact byte encodings: contracts/README.md, mirrored by ``enclave/wire/randomness.py``):

1. ``request(numWords, callback, userData)`` (a consumer contract) moves the price from the consumer's
   balance into the request's escrow and emits ``RandomnessRequested(requestId, consumer, numWords, seed)``.
2. The enclave makes the BLS ``proof`` over the VRF input, ``output = SHA-256(proof)`` and a secp256r1
   signature over the fulfil message, both bound to network magic, this contract and the consumer.
3. ``fulfill(requestId, output, proof, signature)`` checks it, stores the result (FULFILLED) and earns the
   escrowed fee; it calls nobody. A request still pending ``refundBlocks()`` after it was made may be
   refunded by anyone (``refund``: fee back to the balance, state REFUNDED, never fulfilled).
4. ``deliver(requestId)`` calls ``consumer.callback(requestId, words, userData)``: a THROW is caught
   (CALLBACK_FAILED); an ABORT, or more than ``callbackGasCap()`` GAS burnt, faults the delivery and the
   operator records it with ``markCallbackFailed``.

Owner, operator, owner delay, pause: ``kernel/chain/contracts/service_admin.py``; balances, escrow,
refunds, fees: ``kernel/chain/contracts/service_funds.py``.
word_i = int.from_bytes(SHA-256(output || bytes([i])), "little") mod 2**255, for i in range(numWords).
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, LedgerContract
from boa3.sc.types import ECPoint, NamedCurveHash, Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes, to_int

# the libraries' public methods listed here are this contract's (neo3-boa exports an imported @public);
# service_funds first: it imports service_admin, and neo3-boa keeps the marks of the last import
# fmt: off
# isort: off
from neo_service_layer.kernel.chain.contracts.service_funds import (
    balance_of, base_fee, callback_gas_cap, collected_fees, escrow_fee, escrow_of, escrowed_fees,
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

FULFIL_TAG = b"NSL-RANDOMNESS-V2"
VRF_TAG = b"NSL-RANDOMNESS-VRF-V2"
MAX_WORDS = 100
MAX_USER_DATA = 512
MAX_CALLBACK_NAME = 64
MAX_REASON = 256
# largest value of a signed 256-bit NeoVM integer, 2**255 - 1 (2**255 itself does not fit)
MAX_INT255 = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
# compressed BLS12-381 G1 generator
G1_GENERATOR = (
    b"\x97\xf1\xd3\xa7\x31\x97\xd7\x94\x26\x95\x63\x8c\x4f\xa9\xac\x0f"
    b"\xc3\x68\x8c\x4f\x97\x74\xb9\x05\xa1\x4e\x3a\x3f\x17\x1b\xac\x58"
    b"\x6c\x55\xe8\x3f\xf9\x7a\x1a\xef\xfb\x3a\xf0\x0a\xdb\x22\xc6\xbb"
)

# request states
STATE_NONE = 0
STATE_PENDING = 1
STATE_FULFILLED = 2
STATE_DELIVERED = 3
STATE_CALLBACK_FAILED = 4
STATE_REFUNDED = 5

# storage keys (the libraries' keys start with "_")
KEY_NEXT_ID = b"n"
KEY_VERSION = b"v"
KEY_PREV_CUTOFF = b"x"  # first request id the previous key may NOT sign for
KEY_PREV_DEADLINE = b"y"  # last block height at which the previous key is accepted
PREFIX_ECDSA = b"k"
PREFIX_BLS = b"b"
PREFIX_REQUEST = b"r"  # + u64le(id): [consumer, numWords, seed, callback, userData, gasCap], written once
PREFIX_STATE = b"s"  # + u64le(id): request state
PREFIX_RESULT = b"R"  # + u64le(id): [output, proof, keyVersion], written once by fulfill
PREFIX_FAILURE = b"e"  # + u64le(id): why the callback failed

# request fields
F_CONSUMER = 0
F_NUM_WORDS = 1
F_SEED = 2
F_CALLBACK = 3
F_USER_DATA = 4
F_GAS_CAP = 5
# result fields
R_OUTPUT = 0
R_PROOF = 1
R_KEY_VERSION = 2


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslRandomnessService"
    meta.description = "Neo Service Layer randomness service (ECDSA-authenticated, BLS-verifiable)"
    meta.add_permission(contract="*", methods="*")  # consumer callbacks are arbitrary methods
    return meta


RandomnessRequested = CreateNewEvent(
    [("requestId", int), ("consumer", UInt160), ("numWords", int), ("seed", bytes)], "RandomnessRequested"
)
RandomnessFulfilled = CreateNewEvent(
    [("requestId", int), ("output", bytes), ("proof", bytes)], "RandomnessFulfilled"
)
RandomnessDelivered = CreateNewEvent([("requestId", int)], "RandomnessDelivered")
CallbackFailed = CreateNewEvent([("requestId", int), ("reason", str)], "CallbackFailed")
KeyRotated = CreateNewEvent([("version", int), ("publicKey", bytes), ("blsPublicKey", bytes)], "KeyRotated")


def _id_bytes(request_id: int) -> bytes:
    return to_bytes(request_id, 8)


def _u32(value: int) -> bytes:
    """``u32le(value)`` for 0 <= value < 2^32 (to_bytes is signed: pad past the sign bit, keep 4 bytes)."""
    return to_bytes(value + 0x100000000, 5)[:4]


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


def _result(request_id: int) -> list:
    return cast(list, storage.get_list(PREFIX_RESULT + _id_bytes(request_id)))


def _check_keys(public_key: bytes, bls_public_key: bytes):
    assert len(public_key) == 33, "publicKey must be a 33-byte compressed secp256r1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "publicKey must be compressed"
    assert len(bls_public_key) == 48, "blsPublicKey must be a 48-byte compressed G1 point"


def _install_keys(public_key: bytes, bls_public_key: bytes) -> int:
    _check_keys(public_key, bls_public_key)
    version = storage.get_int(KEY_VERSION) + 1
    storage.put_int(KEY_VERSION, version)
    storage.put(PREFIX_ECDSA + to_bytes(version), public_key)
    storage.put(PREFIX_BLS + to_bytes(version), bls_public_key)
    KeyRotated(version, public_key, bls_public_key)
    return version


def _verify(version: int, message: bytes, signature: bytes) -> bool:
    if version <= 0:
        return False
    key = storage.get(PREFIX_ECDSA + to_bytes(version))
    if len(key) == 0:
        return False
    return CryptoLib.verify_with_ecdsa(message, ECPoint(key), signature, NamedCurveHash.SECP256R1SHA256)


def _word(output: bytes, index: int) -> int:
    value = to_int(CryptoLib.sha256(output + to_bytes(index, 1)))
    if value < 0:  # the hash read as signed: add 2**255 to get the unsigned value mod 2**255
        value = value + MAX_INT255 + 1
    return value


@public
def _deploy(data: Any, update: bool):
    """data: [owner, operator, updateDelay, refundBlocks, publicKey (33 bytes), blsPublicKey (48 bytes)];
    a missing entry (or None): owner and operator = sender, default delay and refund timeout, no key
    until ``rotateKey``."""
    if not update:
        _setup(data)


def _setup(data: Any):
    """``_deploy``'s work (neo3-boa 1.5 drops ``args = ...`` assignments inside ``_deploy`` itself)."""
    args = cast(list, [])
    if isinstance(data, list):
        args = data
    init_admin(args, 0)
    init_funds(args, 3)
    if len(args) >= 6:
        _install_keys(cast(bytes, args[4]), cast(bytes, args[5]))


@public(safe=True)
def fee() -> int:
    """Price of a request in GAS fractions: the base fee plus the callback GAS cap."""
    return base_fee() + callback_gas_cap()


@public
def request(numWords: int, callback: str, userData: bytes) -> int:
    """Called by a consumer contract; returns the request id. The fee comes from its prepaid balance."""
    not_paused()
    assert numWords >= 1, "numWords must be at least 1"
    assert numWords <= MAX_WORDS, "numWords must be at most 100"
    assert len(userData) <= MAX_USER_DATA, "userData must be at most 512 bytes"
    assert len(callback) > 0, "callback is required"
    assert len(callback) <= MAX_CALLBACK_NAME, "callback name is too long"
    assert callback[0] != "_", "callback must be a public method"
    consumer = runtime.calling_script_hash
    has_callback = ContractManagement.has_method(consumer, callback, 3)
    assert has_callback, "consumer must be a contract with callback(requestId, words, userData)"

    request_id = storage.get_int(KEY_NEXT_ID)
    storage.put_int(KEY_NEXT_ID, request_id + 1)
    escrow_fee(consumer, request_id, fee())
    tx = cast(Transaction, runtime.script_container)
    seed = CryptoLib.sha256(_id_bytes(request_id) + consumer + tx.hash + to_bytes(runtime.get_random()))
    key = _id_bytes(request_id)
    storage.put_list(PREFIX_REQUEST + key, [consumer, numWords, seed, callback, userData, callback_gas_cap()])
    storage.put_int(PREFIX_STATE + key, STATE_PENDING)
    RandomnessRequested(request_id, consumer, numWords, seed)
    return request_id


@public
def fulfill(requestId: int, output: bytes, proof: bytes, signature: bytes):
    """Anyone may submit; valid only with the service key's signature. Stores the result, calls nobody."""
    assert _state(requestId) == STATE_PENDING, "request is not pending (fulfilled or refunded)"
    assert len(output) == 32, "output must be 32 bytes"
    assert len(proof) == 96, "proof must be a 96-byte BLS signature"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    proof_hash = CryptoLib.sha256(proof)
    assert proof_hash == output, "output must equal SHA-256(proof)"
    record = _request(requestId)
    seed = cast(bytes, record[F_SEED])
    consumer = cast(UInt160, record[F_CONSUMER])
    message = (
        FULFIL_TAG
        + _u32(runtime.get_network())
        + runtime.executing_script_hash
        + _id_bytes(requestId)
        + consumer
        + seed
        + output
        + proof_hash
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

    storage.put_list(PREFIX_RESULT + _id_bytes(requestId), [output, proof, version])
    _set_state(requestId, STATE_FULFILLED)
    settle_fee(consumer, requestId, 0)
    RandomnessFulfilled(requestId, output, proof)


@public
def deliver(requestId: int) -> bool:
    """Anyone may call: run the consumer's callback. False (and CallbackFailed) if the callback threw."""
    state = _state(requestId)
    assert state != STATE_PENDING, "request not fulfilled yet"
    assert state != STATE_DELIVERED, "request already delivered"
    assert state != STATE_REFUNDED, "request was refunded"
    record = _request(requestId)
    num_words = cast(int, record[F_NUM_WORDS])
    output = cast(bytes, _result(requestId)[R_OUTPUT])
    words: list[int] = []
    for i in range(num_words):
        words.append(_word(output, i))

    _set_state(requestId, STATE_DELIVERED)  # before the call: a re-entrant deliver is refused
    consumer = cast(UInt160, record[F_CONSUMER])
    callback = cast(str, record[F_CALLBACK])
    delivered = True
    start = measure_callback_start()
    try:
        call_contract(consumer, callback, [requestId, words, record[F_USER_DATA]])
    except Exception:
        delivered = False
    measure_callback_end(start, cast(int, record[F_GAS_CAP]))
    if delivered:
        RandomnessDelivered(requestId)
        return True
    _set_state(requestId, STATE_CALLBACK_FAILED)
    reason = "callback threw an exception"
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    CallbackFailed(requestId, reason)
    return False


@public(name="markCallbackFailed")
def mark_callback_failed(requestId: int, reason: str):
    """Operator only: record a callback that cannot even run (it ABORTs, faults or exceeds the GAS cap)."""
    only_operator()
    assert _state(requestId) == STATE_FULFILLED, "only a fulfilled, undelivered request can be marked"
    assert len(reason) <= MAX_REASON, "reason is too long"
    _set_state(requestId, STATE_CALLBACK_FAILED)
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    CallbackFailed(requestId, reason)


@public
def refund(requestId: int):
    """Anyone: a request still pending ``refundBlocks()`` blocks after it was made gets its fee back
    on its consumer's balance and can no longer be fulfilled."""
    assert _state(requestId) == STATE_PENDING, "only a pending request can be refunded"
    refund_fee(cast(UInt160, _request(requestId)[F_CONSUMER]), requestId)
    _set_state(requestId, STATE_REFUNDED)


@public(name="getRequest", safe=True)
def get_request(requestId: int) -> list:
    """[state, consumer, numWords, seed, output]; state 0 for an unknown id, 5 once refunded."""
    state = storage.get_int(PREFIX_STATE + _id_bytes(requestId))
    if state == STATE_NONE:
        return [STATE_NONE, None, 0, b"", b""]
    record = _request(requestId)
    output = b""
    if state >= STATE_FULFILLED and state != STATE_REFUNDED:
        output = cast(bytes, _result(requestId)[R_OUTPUT])
    return [state, record[F_CONSUMER], record[F_NUM_WORDS], record[F_SEED], output]


@public(name="getProof", safe=True)
def get_proof(requestId: int) -> list:
    """[proof, keyVersion] of a fulfilled request ([b'', 0] before)."""
    state = _state(requestId)
    if state < STATE_FULFILLED or state == STATE_REFUNDED:
        return [b"", 0]
    result = _result(requestId)
    return [result[R_PROOF], result[R_KEY_VERSION]]


@public(name="getCallbackFailure", safe=True)
def get_callback_failure(requestId: int) -> str:
    """Why the callback failed ('' if it did not)."""
    return storage.get_str(PREFIX_FAILURE + _id_bytes(requestId))


@public(name="verifyProof", safe=True)
def verify_proof(requestId: int, messagePoint: bytes) -> bool:
    """True if the stored proof is the BLS signature of the key that fulfilled the request over the G2
    point ``messagePoint`` (= hash_to_G2(vrfInput), computed off chain: CryptoLib has no hash-to-curve)."""
    state = _state(requestId)
    assert state >= STATE_FULFILLED, "request not fulfilled yet"
    assert state != STATE_REFUNDED, "request was refunded"
    result = _result(requestId)
    bls_key = storage.get(PREFIX_BLS + to_bytes(cast(int, result[R_KEY_VERSION])))
    public_point = CryptoLib.bls12_381_deserialize(bls_key)
    signature_point = CryptoLib.bls12_381_deserialize(cast(bytes, result[R_PROOF]))
    message_point = CryptoLib.bls12_381_deserialize(messagePoint)
    generator = CryptoLib.bls12_381_deserialize(G1_GENERATOR)
    left = CryptoLib.bls12_381_pairing(public_point, message_point)
    right = CryptoLib.bls12_381_pairing(generator, signature_point)
    return CryptoLib.bls12_381_equal(left, right)


@public(name="publicKey", safe=True)
def public_key() -> bytes:
    """Current 33-byte compressed secp256r1 service key (b'' before any key is set)."""
    return storage.get(PREFIX_ECDSA + to_bytes(storage.get_int(KEY_VERSION)))


@public(name="blsPublicKey", safe=True)
def bls_public_key() -> bytes:
    """Current 48-byte compressed BLS12-381 G1 service key (b'' before any key is set)."""
    return storage.get(PREFIX_BLS + to_bytes(storage.get_int(KEY_VERSION)))


@public(name="keyInfo", safe=True)
def key_info() -> list:
    """[version, previousKeyCutoffRequestId, previousKeyDeadlineHeight]."""
    version = storage.get_int(KEY_VERSION)
    return [version, storage.get_int(KEY_PREV_CUTOFF), storage.get_int(KEY_PREV_DEADLINE)]


@public(name="rotateKey")
def rotate_key(newKey: bytes, newBlsKey: bytes, graceBlocks: int) -> int:
    """Owner only: install a new key pair; returns its version.

    The previous pair still fulfils requests made before the rotation (id < cutoff) until block height
    current + graceBlocks; older pairs are retired. graceBlocks = 0 retires the previous pair at once.
    """
    only_owner()
    assert graceBlocks >= 0, "graceBlocks must not be negative"
    storage.put_int(KEY_PREV_CUTOFF, storage.get_int(KEY_NEXT_ID))
    if graceBlocks == 0:
        storage.put_int(KEY_PREV_DEADLINE, -1)
    else:
        storage.put_int(KEY_PREV_DEADLINE, LedgerContract.get_current_index() + graceBlocks)
    return _install_keys(newKey, newBlsKey)
