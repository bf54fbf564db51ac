"""Randomness service: consumers prepay GAS, request random words, and get them back in a callback.

Flow (see contracts/README.md for the full rules and the exact byte encodings):

1. ``request(numWords, callback, userData)`` from a consumer contract takes the fee from the consumer's
   prepaid balance and emits ``RandomnessRequested(requestId, consumer, numWords, seed)``.
2. The service's enclave computes ``proof`` = BLS signature over ``vrfInput = "NSL-RANDOMNESS-VRF-V2" ||
   u32le(magic) || contract || u64le(requestId) || seed`` and ``output = SHA-256(proof)``, then signs with
   its secp256r1 key ``"NSL-RANDOMNESS-V2" || u32le(magic) || contract || u64le(requestId) || consumer ||
   seed || output || SHA-256(proof)`` (64-byte r||s). ``magic`` is this network's (``Runtime.GetNetwork``),
   ``contract`` this contract's script hash and ``consumer`` the request's, both 20 bytes as NeoVM stores
   them: a fulfilment signed for another network, deployment or consumer does not verify here.
3. ``fulfill(requestId, output, proof, signature)`` checks that signature with CryptoLib and stores the
   result (state FULFILLED). It never calls the consumer, so no consumer can make it fail.
4. ``deliver(requestId)`` calls ``consumer.callback(requestId, words, userData)``. A THROW in the callback is
   caught: state CALLBACK_FAILED and ``CallbackFailed``. An ABORT/ASSERT cannot be caught in NeoVM: that
   ``deliver`` transaction faults and the stored result stays untouched and readable; the owner can record
   the failure with ``markCallbackFailed``. The service sends ``fulfill`` and ``deliver`` in one transaction
   when a dry-run of both halts, else ``fulfill`` alone.

word_i = int.from_bytes(SHA-256(output || bytes([i])), "little") mod 2**255, for i in range(numWords).
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, GasToken, LedgerContract
from boa3.sc.types import ECPoint, NamedCurveHash, Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes, to_int

# ---------------------------------------------------------------------------------------------------------
# constants

FULFIL_TAG = b"NSL-RANDOMNESS-V2"
VRF_TAG = b"NSL-RANDOMNESS-VRF-V2"
MAX_WORDS = 100
MAX_USER_DATA = 512
MAX_CALLBACK_NAME = 64
MAX_REASON = 256
DEFAULT_FEE = 10_000_000  # 0.1 GAS
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
PREFIX_BLS = b"b"
PREFIX_BALANCE = b"B"
PREFIX_REQUEST = b"r"  # + u64le(id): [consumer, numWords, seed, callback, userData], written once
PREFIX_STATE = b"s"  # + u64le(id): request state
PREFIX_RESULT = b"R"  # + u64le(id): [output, proof, keyVersion], written once by fulfill
PREFIX_FAILURE = b"e"  # + u64le(id): why the callback failed

# request fields
F_CONSUMER = 0
F_NUM_WORDS = 1
F_SEED = 2
F_CALLBACK = 3
F_USER_DATA = 4
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


# ---------------------------------------------------------------------------------------------------------
# events

RandomnessRequested = CreateNewEvent(
    [("requestId", int), ("consumer", UInt160), ("numWords", int), ("seed", bytes)], "RandomnessRequested"
)
RandomnessFulfilled = CreateNewEvent(
    [("requestId", int), ("output", bytes), ("proof", bytes)], "RandomnessFulfilled"
)
RandomnessDelivered = CreateNewEvent([("requestId", int)], "RandomnessDelivered")
CallbackFailed = CreateNewEvent([("requestId", int), ("reason", str)], "CallbackFailed")
BalanceCredited = CreateNewEvent([("consumer", UInt160), ("amount", int)], "BalanceCredited")
KeyRotated = CreateNewEvent([("version", int), ("publicKey", bytes), ("blsPublicKey", bytes)], "KeyRotated")


# ---------------------------------------------------------------------------------------------------------
# helpers


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


def _owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


def _only_owner():
    assert runtime.check_witness(_owner()), "only the owner may do this"


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


# ---------------------------------------------------------------------------------------------------------
# lifecycle


@public
def _deploy(data: Any, update: bool):
    """data: [owner, publicKey (33 bytes), blsPublicKey (48 bytes)], or None: owner = sender, no key yet."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    owner = tx.sender
    storage.put_int(KEY_FEE, DEFAULT_FEE)
    if data is not None:
        args = cast(list, data)
        owner = cast(UInt160, args[0])
        if len(args) >= 3:
            _install_keys(cast(bytes, args[1]), cast(bytes, args[2]))
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
def request(numWords: int, callback: str, userData: bytes) -> int:
    """Called by a consumer contract; returns the request id. The fee comes from its prepaid balance."""
    assert storage.get_int(KEY_PAUSED) == 0, "service is paused"
    assert numWords >= 1, "numWords must be at least 1"
    assert numWords <= MAX_WORDS, "numWords must be at most 100"
    assert len(userData) <= MAX_USER_DATA, "userData must be at most 512 bytes"
    assert len(callback) > 0, "callback is required"
    assert len(callback) <= MAX_CALLBACK_NAME, "callback name is too long"
    assert callback[0] != "_", "callback must be a public method"
    consumer = runtime.calling_script_hash
    has_callback = ContractManagement.has_method(consumer, callback, 3)
    assert has_callback, "consumer must be a contract with callback(requestId, words, userData)"

    price = storage.get_int(KEY_FEE)
    balance_key = PREFIX_BALANCE + consumer
    balance = storage.get_int(balance_key)
    if balance < price:
        abort("insufficient prepaid balance: send GAS to the service with data = consumer script hash")
    storage.put_int(balance_key, balance - price)
    storage.put_int(KEY_COLLECTED, storage.get_int(KEY_COLLECTED) + price)

    request_id = storage.get_int(KEY_NEXT_ID)
    storage.put_int(KEY_NEXT_ID, request_id + 1)
    tx = cast(Transaction, runtime.script_container)
    seed = CryptoLib.sha256(_id_bytes(request_id) + consumer + tx.hash + to_bytes(runtime.get_random()))
    key = _id_bytes(request_id)
    storage.put_list(PREFIX_REQUEST + key, [consumer, numWords, seed, callback, userData])
    storage.put_int(PREFIX_STATE + key, STATE_PENDING)
    RandomnessRequested(request_id, consumer, numWords, seed)
    return request_id


@public
def fulfill(requestId: int, output: bytes, proof: bytes, signature: bytes):
    """Anyone may submit; valid only with the service key's signature. Stores the result, calls nobody."""
    assert _state(requestId) == STATE_PENDING, "request already fulfilled"
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
    RandomnessFulfilled(requestId, output, proof)


@public
def deliver(requestId: int) -> bool:
    """Anyone may call: run the consumer's callback. False (and CallbackFailed) if the callback threw."""
    state = _state(requestId)
    assert state != STATE_PENDING, "request not fulfilled yet"
    assert state != STATE_DELIVERED, "request already delivered"
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
    try:
        call_contract(consumer, callback, [requestId, words, record[F_USER_DATA]])
    except Exception:
        delivered = False
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
    """Owner only: record a callback that cannot even run (it ABORTs, faults or runs out of GAS)."""
    _only_owner()
    assert _state(requestId) == STATE_FULFILLED, "only a fulfilled, undelivered request can be marked"
    assert len(reason) <= MAX_REASON, "reason is too long"
    _set_state(requestId, STATE_CALLBACK_FAILED)
    storage.put_str(PREFIX_FAILURE + _id_bytes(requestId), reason)
    CallbackFailed(requestId, reason)


@public(name="getRequest", safe=True)
def get_request(requestId: int) -> list:
    """[state, consumer, numWords, seed, output]; state 0 for an unknown id."""
    state = storage.get_int(PREFIX_STATE + _id_bytes(requestId))
    if state == STATE_NONE:
        return [STATE_NONE, None, 0, b"", b""]
    record = _request(requestId)
    output = b""
    if state >= STATE_FULFILLED:
        output = cast(bytes, _result(requestId)[R_OUTPUT])
    return [state, record[F_CONSUMER], record[F_NUM_WORDS], record[F_SEED], output]


@public(name="getProof", safe=True)
def get_proof(requestId: int) -> list:
    """[proof, keyVersion] of a fulfilled request ([b'', 0] before)."""
    if _state(requestId) < STATE_FULFILLED:
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
    assert _state(requestId) >= STATE_FULFILLED, "request not fulfilled yet"
    result = _result(requestId)
    bls_key = storage.get(PREFIX_BLS + to_bytes(cast(int, result[R_KEY_VERSION])))
    public_point = CryptoLib.bls12_381_deserialize(bls_key)
    signature_point = CryptoLib.bls12_381_deserialize(cast(bytes, result[R_PROOF]))
    message_point = CryptoLib.bls12_381_deserialize(messagePoint)
    generator = CryptoLib.bls12_381_deserialize(G1_GENERATOR)
    left = CryptoLib.bls12_381_pairing(public_point, message_point)
    right = CryptoLib.bls12_381_pairing(generator, signature_point)
    return CryptoLib.bls12_381_equal(left, right)


# ---------------------------------------------------------------------------------------------------------
# keys


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
    _only_owner()
    assert graceBlocks >= 0, "graceBlocks must not be negative"
    storage.put_int(KEY_PREV_CUTOFF, storage.get_int(KEY_NEXT_ID))
    if graceBlocks == 0:
        storage.put_int(KEY_PREV_DEADLINE, -1)
    else:
        storage.put_int(KEY_PREV_DEADLINE, LedgerContract.get_current_index() + graceBlocks)
    return _install_keys(newKey, newBlsKey)


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
