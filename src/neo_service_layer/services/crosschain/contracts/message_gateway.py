"""Cross-chain message gateway on Neo N3: verified messages to and from Neo X (EVM), relayed by the Neo
Service Layer. The same semantics and signed bytes as ``contracts/evm/MessageGateway.sol``; the format is
described in ``enclave/wire/crosschain.py``::

    preimage = "NSL-XMSG-V1" || u8 kind || u64be srcChain || u64be destChain || srcContract(20)
               || u64be nonce || sender(20) || receiver(20) || u64be value || keccak256(payload)

checked with ``CryptoLib.verifyWithECDsa(preimage, signer, signature, secp256k1/Keccak-256)``. This
chain's cross-chain id is 2^63 + its network magic; a script hash is its 20 bytes as the NeoVM holds them.

Outbound: a sender (account or contract) transfers GAS to this contract with
``data = [destChain, receiver (20 bytes), payload, gasLimit]``; ``onNEP17Payment`` refuses (the transfer
FAULTs) an unknown or paused route, a receiver that is not 20 bytes, a payload above ``maxPayloadBytes``,
a gas limit above the route's ``maxGasLimit`` (destination gas units) and an amount below
``feeOf(destChain, gasLimit)`` = baseFee + gasLimit * gasPrice (GAS fractions), with a message saying
which; otherwise it numbers the message (1, 2, ...), keeps the whole amount as the fee and emits
``MessageSent``.

Inbound, in two steps because NeoVM cannot catch a callee's ABORT (the pattern of
``kernel/chain/use_cases/callback_delivery.py``):

1. ``deliver(...)`` (anyone; valid only with the enclave's signature, from the route's registered gateway,
   once per (srcChain, srcContract, nonce), in any order) stores the message as ACCEPTED. It calls nobody.
2. ``execute(srcChain, srcContract, nonce)`` (anyone, again and again while it is not EXECUTED) calls
   ``receiver.onMessage(srcChain, sender, nonce, payload)``: at least ``gasLimit`` GAS fractions must be
   left for it and it may burn at most that much (else the execution ABORTs); a THROW is caught (FAILED,
   reason "receiver threw an exception": neo3-boa cannot read the exception; a receiver without that
   method, or no contract at all, is FAILED without a call); its return value (bytes,
   at most 256 kept) is the result. Every attempt emits ``MessageExecuted``. A receiver that ABORTs
   faults the whole transaction: the relayer then sends ``[deliver; markFailed(reason)]`` (operator
   only), so the message is accepted, FAILED with the VM's fault message, and anyone can ``execute`` it
   again later.

Receipts: ``deliverReceipt`` stores, for a message this gateway sent, the outcome the enclave signed from
the destination's ``MessageExecuted`` (kind RECEIPT); a later attempt replaces a failure, nothing replaces
a success; the sender reads ``resultOf(nonce)``.

Roles: the owner (a cold key: routes and fees, limits, signer, guard, operator, fees withdrawal, update,
ownership); the guard (pauses and resumes sending to and delivering from each remote chain); the operator
(the relayer: ``markFailed`` only).
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, GasToken
from boa3.sc.types import ECPoint, NamedCurveHash, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes

TAG = b"NSL-XMSG-V1"
KIND_MESSAGE = b"\x01"
KIND_RECEIPT = b"\x02"
N3_CHAIN_BASE = 0x8000000000000000
U64_LIMIT = 0x10000000000000000
MAX_RESULT_BYTES = 256
MAX_REASON_BYTES = 256
DEFAULT_MAX_PAYLOAD = 4096
#: GAS fractions kept back for the work after the receiver's call (status, event)
EXECUTE_RESERVE = 5_000_000
#: the reason of a receiver that threw (neo3-boa cannot read the exception's message)
RECEIVER_THREW = b"receiver threw an exception"
#: the reason of a receiver that is no contract with ``onMessage(srcChain, sender, nonce, payload)``
NO_RECEIVER = b"receiver has no onMessage(srcChain, sender, nonce, payload)"

# statuses (inbound: NONE, ACCEPTED, EXECUTED, FAILED; outbound receipts: NONE, EXECUTED, FAILED)
STATUS_NONE = 0
STATUS_EXECUTED = 1
STATUS_FAILED = 2
STATUS_ACCEPTED = 3

KEY_OWNER = b"o"
KEY_GUARD = b"g"
KEY_OPERATOR = b"p"
KEY_SIGNER = b"k"
KEY_NONCE = b"n"
KEY_MAX_PAYLOAD = b"L"
PREFIX_ROUTE = b"r"  # + u64be(chainId): [gateway, baseFee, gasPrice, sendPaused, deliverPaused, maxGasLimit]
PREFIX_INBOUND = b"i"  # + u64be(srcChain) + srcContract + u64be(nonce): see I_* fields
PREFIX_OUTBOUND = b"s"  # + u64be(nonce): see O_* fields

R_GATEWAY = 0
R_BASE_FEE = 1
R_GAS_PRICE = 2
R_SEND_PAUSED = 3
R_DELIVER_PAUSED = 4
R_MAX_GAS_LIMIT = 5

I_SENDER = 0
I_RECEIVER = 1
I_GAS_LIMIT = 2
I_PAYLOAD = 3
I_STATUS = 4
I_ATTEMPTS = 5
I_REASON = 6

O_SENDER = 0
O_DEST_CHAIN = 1
O_RECEIVER = 2
O_STATUS = 3
O_ATTEMPT = 4
O_RESULT = 5


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslMessageGateway"
    meta.description = "Neo Service Layer cross-chain message gateway (Neo N3 <-> Neo X)"
    meta.add_permission(contract="*", methods="*")  # receivers are arbitrary contracts; GAS transfer
    return meta


MessageSent = CreateNewEvent(
    [
        ("nonce", int),
        ("sender", UInt160),
        ("destChain", int),
        ("receiver", bytes),
        ("payload", bytes),
        ("gasLimit", int),
        ("fee", int),
    ],
    "MessageSent",
)
MessageAccepted = CreateNewEvent(
    [("srcChain", int), ("nonce", int), ("srcContract", bytes)], "MessageAccepted"
)
MessageExecuted = CreateNewEvent(
    [
        ("srcChain", int),
        ("nonce", int),
        ("srcContract", bytes),
        ("sender", bytes),
        ("receiver", UInt160),
        ("attempt", int),
        ("ok", bool),
        ("result", bytes),
    ],
    "MessageExecuted",
)
ReceiptStored = CreateNewEvent(
    [("nonce", int), ("srcChain", int), ("attempt", int), ("ok", bool), ("result", bytes)], "ReceiptStored"
)
RouteSet = CreateNewEvent(
    [("chainId", int), ("gateway", bytes), ("baseFee", int), ("gasPrice", int), ("maxGasLimit", int)],
    "RouteSet",
)
Paused = CreateNewEvent([("chainId", int), ("sending", bool), ("delivering", bool)], "Paused")
RoleChanged = CreateNewEvent([("role", str), ("account", bytes)], "RoleChanged")


# encodings -----------------------------------------------------------------------------------------


def _u64(value: int) -> bytes:
    """``u64be(value)`` for 0 <= value < 2^64 (``to_bytes`` is signed little-endian: pad past the sign
    bit, keep 8 bytes, reverse)."""
    assert value >= 0, "value must not be negative"
    assert value < U64_LIMIT, "value must be below 2^64"
    little = to_bytes(value + U64_LIMIT, 9)[:8]
    big = b""
    for i in range(8):
        big = big + little[7 - i : 8 - i]
    return big


def _chain_id() -> int:
    return N3_CHAIN_BASE + runtime.get_network()


def _preimage(
    kind: bytes,
    src_chain: int,
    src_contract: bytes,
    nonce: int,
    sender: bytes,
    receiver: bytes,
    value: int,
    payload: bytes,
) -> bytes:
    return (
        TAG
        + kind
        + _u64(src_chain)
        + _u64(_chain_id())
        + src_contract
        + _u64(nonce)
        + sender
        + receiver
        + _u64(value)
        + CryptoLib.keccak256(payload)
    )


def _verify(message: bytes, signature: bytes):
    key = storage.get(KEY_SIGNER)
    assert len(key) == 33, "no signer set"
    assert len(signature) == 64, "signature must be 64 bytes r||s"
    ok = CryptoLib.verify_with_ecdsa(message, ECPoint(key), signature, NamedCurveHash.SECP256K1KECCAK256)
    assert ok, "invalid signature"


# roles -----------------------------------------------------------------------------------------------


def _only(key: bytes, role: str):
    holder = storage.get_uint160(key)
    if not runtime.check_witness(holder):
        abort("only the " + role + " may do this")


def _set_role(key: bytes, role: str, account: UInt160):
    assert isinstance(account, UInt160), "account must be a 20-byte script hash"
    storage.put_uint160(key, account)
    RoleChanged(role, account)


def _set_signer(public_key: bytes):
    assert len(public_key) == 33, "signer must be a 33-byte compressed secp256k1 key"
    assert public_key[0] == 2 or public_key[0] == 3, "signer must be compressed"
    storage.put(KEY_SIGNER, public_key)
    RoleChanged("signer", public_key)


@public
def _deploy(data: Any, update: bool):
    """data: [owner, guard, operator, signer (33-byte compressed secp256k1 key)]."""
    if not update:
        _setup(data)


def _setup(data: Any):
    """``_deploy``'s work (neo3-boa 1.5 drops assignments inside ``_deploy`` itself)."""
    args = cast(list, data)
    assert len(args) == 4, "deploy data: [owner, guard, operator, signer]"
    _set_role(KEY_OWNER, "owner", cast(UInt160, args[0]))
    _set_role(KEY_GUARD, "guard", cast(UInt160, args[1]))
    _set_role(KEY_OPERATOR, "operator", cast(UInt160, args[2]))
    _set_signer(cast(bytes, args[3]))
    storage.put_int(KEY_MAX_PAYLOAD, DEFAULT_MAX_PAYLOAD)


# routes ----------------------------------------------------------------------------------------------


def _route_key(chain_id: int) -> bytes:
    return PREFIX_ROUTE + _u64(chain_id)


def _route(chain_id: int) -> list:
    raw = storage.get(_route_key(chain_id))
    if len(raw) == 0:
        abort("unknown route")
    return cast(list, storage.get_list(_route_key(chain_id)))


def _check_source(src_chain: int, src_contract: bytes):
    route = _route(src_chain)
    if cast(bytes, route[R_GATEWAY]) != src_contract:
        abort("unknown source contract")
    if cast(bool, route[R_DELIVER_PAUSED]):
        abort("delivering from this chain is paused")


@public(name="routeOf", safe=True)
def route_of(chainId: int) -> list:
    """[gateway, baseFee, gasPrice, sendPaused, deliverPaused, maxGasLimit] (an empty gateway: no route)."""
    raw = storage.get(_route_key(chainId))
    if len(raw) == 0:
        return [b"", 0, 0, False, False, 0]
    return cast(list, storage.get_list(_route_key(chainId)))


@public(name="feeOf", safe=True)
def fee_of(destChain: int, gasLimit: int) -> int:
    route = _route(destChain)
    return cast(int, route[R_BASE_FEE]) + gasLimit * cast(int, route[R_GAS_PRICE])


# outbound --------------------------------------------------------------------------------------------


@public
def onNEP17Payment(from_address: UInt160 | None, amount: int, data: Any):
    """GAS with ``data = [destChain, receiver, payload, gasLimit]``: send a message (see the module)."""
    if runtime.calling_script_hash != GasToken.hash:
        abort("only GAS is accepted")
    if from_address is None:
        abort("a message needs a sender")
    if not isinstance(data, list):
        abort("data must be [destChain, receiver, payload, gasLimit]")
    fields = cast(list, data)
    if len(fields) != 4:
        abort("data must be [destChain, receiver, payload, gasLimit]")
    dest_chain = cast(int, fields[0])
    receiver = cast(bytes, fields[1])
    payload = cast(bytes, fields[2])
    gas_limit = cast(int, fields[3])
    route = _route(dest_chain)
    if cast(bool, route[R_SEND_PAUSED]):
        abort("sending to this chain is paused")
    if len(receiver) != 20:
        abort("receiver must be 20 bytes")
    if len(payload) > storage.get_int(KEY_MAX_PAYLOAD):
        abort("payload too large")
    if gas_limit < 0 or gas_limit > cast(int, route[R_MAX_GAS_LIMIT]):
        abort("gas limit too high")
    fee = cast(int, route[R_BASE_FEE]) + gas_limit * cast(int, route[R_GAS_PRICE])
    if amount < fee:
        abort("fee too low")
    sender = cast(UInt160, from_address)
    nonce = storage.get_int(KEY_NONCE) + 1
    storage.put_int(KEY_NONCE, nonce)
    storage.put_list(PREFIX_OUTBOUND + _u64(nonce), [sender, dest_chain, receiver, STATUS_NONE, 0, b""])
    MessageSent(nonce, sender, dest_chain, receiver, payload, gas_limit, amount)


@public(safe=True)
def nonce() -> int:
    """The nonce of the last message sent (0 before any)."""
    return storage.get_int(KEY_NONCE)


@public(name="resultOf", safe=True)
def result_of(nonce: int) -> list:
    """[sender, destChain, status, attempt, result] of message ``nonce``: status 0 until a receipt came,
    then 1 (executed, result = the receiver's return value) or 2 (failed, result = why)."""
    raw = storage.get(PREFIX_OUTBOUND + _u64(nonce))
    if len(raw) == 0:
        return [None, 0, STATUS_NONE, 0, b""]
    out = cast(list, storage.get_list(PREFIX_OUTBOUND + _u64(nonce)))
    return [out[O_SENDER], out[O_DEST_CHAIN], out[O_STATUS], out[O_ATTEMPT], out[O_RESULT]]


@public(name="deliverReceipt")
def deliver_receipt(
    srcChain: int,
    srcContract: bytes,
    nonce: int,
    sender: bytes,
    receiver: UInt160,
    attempt: int,
    ok: bool,
    result: bytes,
    signature: bytes,
):
    """Store the outcome of a delivery attempt of this gateway's message ``nonce`` (signed RECEIPT)."""
    _check_source(srcChain, srcContract)
    assert len(result) <= MAX_RESULT_BYTES, "result too large"
    key = PREFIX_OUTBOUND + _u64(nonce)
    if len(storage.get(key)) == 0:
        abort("unknown message")
    out = cast(list, storage.get_list(key))
    if cast(UInt160, out[O_SENDER]) != receiver:
        abort("unknown message")
    if cast(int, out[O_DEST_CHAIN]) != srcChain or cast(bytes, out[O_RECEIVER]) != sender:
        abort("unknown message")
    if cast(int, out[O_STATUS]) == STATUS_EXECUTED or attempt <= cast(int, out[O_ATTEMPT]):
        abort("stale receipt")
    outcome = b"\x00"
    if ok:
        outcome = b"\x01"
    _verify(
        _preimage(KIND_RECEIPT, srcChain, srcContract, nonce, sender, receiver, attempt, outcome + result),
        signature,
    )
    status = STATUS_FAILED
    if ok:
        status = STATUS_EXECUTED
    out[O_STATUS] = status
    out[O_ATTEMPT] = attempt
    out[O_RESULT] = result
    storage.put_list(key, out)
    ReceiptStored(nonce, srcChain, attempt, ok, result)


# inbound ---------------------------------------------------------------------------------------------


def _inbound_key(src_chain: int, src_contract: bytes, nonce: int) -> bytes:
    return PREFIX_INBOUND + _u64(src_chain) + src_contract + _u64(nonce)


def _inbound(key: bytes) -> list:
    if len(storage.get(key)) == 0:
        abort("unknown message")
    return cast(list, storage.get_list(key))


@public
def deliver(
    srcChain: int,
    srcContract: bytes,
    nonce: int,
    sender: bytes,
    receiver: UInt160,
    gasLimit: int,
    payload: bytes,
    signature: bytes,
):
    """Accept a message signed by the enclave (anyone may send it); ``execute`` then runs it."""
    _check_source(srcChain, srcContract)
    assert len(sender) == 20, "sender must be 20 bytes"
    assert isinstance(receiver, UInt160), "receiver must be a 20-byte script hash"
    key = _inbound_key(srcChain, srcContract, nonce)
    if len(storage.get(key)) != 0:
        abort("already delivered")
    _verify(
        _preimage(KIND_MESSAGE, srcChain, srcContract, nonce, sender, receiver, gasLimit, payload), signature
    )
    storage.put_list(key, [sender, receiver, gasLimit, payload, STATUS_ACCEPTED, 0, ""])
    MessageAccepted(srcChain, nonce, srcContract)


@public
def execute(srcChain: int, srcContract: bytes, nonce: int) -> bool:
    """Run an accepted or failed message (anyone; see the module): True if the receiver returned."""
    _check_source(srcChain, srcContract)
    key = _inbound_key(srcChain, srcContract, nonce)
    entry = _inbound(key)
    status = cast(int, entry[I_STATUS])
    if status == STATUS_EXECUTED:
        abort("already executed")
    attempt = cast(int, entry[I_ATTEMPTS]) + 1
    entry[I_ATTEMPTS] = attempt
    entry[I_STATUS] = STATUS_EXECUTED  # before the call: a re-entrant execute is refused
    storage.put_list(key, entry)
    gas_limit = cast(int, entry[I_GAS_LIMIT])
    receiver = cast(UInt160, entry[I_RECEIVER])
    sender = cast(bytes, entry[I_SENDER])
    start = runtime.gas_left
    assert start >= gas_limit + EXECUTE_RESERVE, "not enough GAS left for the receiver's gas limit"
    ok = True
    result = b""
    if not ContractManagement.has_method(receiver, "onMessage", 4):
        # a call would FAULT uncatchably (no such contract or method): record it, keep it retryable
        ok = False
        result = NO_RECEIVER
    else:
        try:
            returned = call_contract(receiver, "onMessage", [srcChain, sender, nonce, entry[I_PAYLOAD]])
            if isinstance(returned, bytes):
                result = cast(bytes, returned)[:MAX_RESULT_BYTES]
        except Exception:  # neo3-boa cannot name the exception: the reason is fixed
            ok = False
            result = RECEIVER_THREW
    assert start - runtime.gas_left <= gas_limit + EXECUTE_RESERVE, "receiver exceeded its gas limit"
    if not ok:
        entry[I_STATUS] = STATUS_FAILED
        entry[I_REASON] = result
        storage.put_list(key, entry)
    MessageExecuted(srcChain, nonce, srcContract, sender, receiver, attempt, ok, result)
    return ok


@public(name="markFailed")
def mark_failed(srcChain: int, srcContract: bytes, nonce: int, reason: str):
    """Operator only: record an attempt that cannot run (the receiver ABORTs or burns too much GAS)."""
    _only(KEY_OPERATOR, "operator")
    assert len(reason) <= MAX_REASON_BYTES, "reason too long"
    key = _inbound_key(srcChain, srcContract, nonce)
    entry = _inbound(key)
    if cast(int, entry[I_STATUS]) == STATUS_EXECUTED:
        abort("already executed")
    attempt = cast(int, entry[I_ATTEMPTS]) + 1
    entry[I_ATTEMPTS] = attempt
    entry[I_STATUS] = STATUS_FAILED
    entry[I_REASON] = reason
    storage.put_list(key, entry)
    MessageExecuted(
        srcChain,
        nonce,
        srcContract,
        cast(bytes, entry[I_SENDER]),
        cast(UInt160, entry[I_RECEIVER]),
        attempt,
        False,
        to_bytes(reason),
    )


@public(name="inboundOf", safe=True)
def inbound_of(srcChain: int, srcContract: bytes, nonce: int) -> list:
    """[status, attempts, reason]: 0 unknown, 3 accepted, 1 executed, 2 failed (reason: why)."""
    key = _inbound_key(srcChain, srcContract, nonce)
    if len(storage.get(key)) == 0:
        return [STATUS_NONE, 0, ""]
    entry = cast(list, storage.get_list(key))
    return [entry[I_STATUS], entry[I_ATTEMPTS], entry[I_REASON]]


# administration --------------------------------------------------------------------------------------


@public(name="chainId", safe=True)
def chain_id() -> int:
    return _chain_id()


@public(safe=True)
def owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


@public(safe=True)
def guard() -> UInt160:
    return storage.get_uint160(KEY_GUARD)


@public(safe=True)
def operator() -> UInt160:
    return storage.get_uint160(KEY_OPERATOR)


@public(safe=True)
def signer() -> bytes:
    return storage.get(KEY_SIGNER)


@public(name="maxPayloadBytes", safe=True)
def max_payload_bytes() -> int:
    return storage.get_int(KEY_MAX_PAYLOAD)


@public(name="setRoute")
def set_route(chainId: int, gateway: bytes, baseFee: int, gasPrice: int, maxGasLimit: int):
    """Owner: the remote chain's gateway (20 bytes), the fee of messages to it and their largest gas limit
    (in that chain's units)."""
    _only(KEY_OWNER, "owner")
    assert chainId > 0, "bad chain id"
    assert chainId < U64_LIMIT, "bad chain id"
    assert chainId != _chain_id(), "bad chain id"
    assert len(gateway) == 20, "gateway must be 20 bytes"
    assert baseFee >= 0, "fees must not be negative"
    assert gasPrice >= 0, "fees must not be negative"
    assert maxGasLimit >= 0, "maxGasLimit must not be negative"
    send_paused = False
    deliver_paused = False
    if len(storage.get(_route_key(chainId))) != 0:
        old = cast(list, storage.get_list(_route_key(chainId)))
        send_paused = cast(bool, old[R_SEND_PAUSED])
        deliver_paused = cast(bool, old[R_DELIVER_PAUSED])
    storage.put_list(
        _route_key(chainId), [gateway, baseFee, gasPrice, send_paused, deliver_paused, maxGasLimit]
    )
    RouteSet(chainId, gateway, baseFee, gasPrice, maxGasLimit)


@public(name="setPaused")
def set_paused(chainId: int, sending: bool, delivering: bool):
    """Guard: pause or resume messages to (sending) and from (delivering) ``chainId``."""
    _only(KEY_GUARD, "guard")
    route = _route(chainId)
    route[R_SEND_PAUSED] = sending
    route[R_DELIVER_PAUSED] = delivering
    storage.put_list(_route_key(chainId), route)
    Paused(chainId, sending, delivering)


@public(name="setLimits")
def set_limits(maxPayloadBytes: int):
    _only(KEY_OWNER, "owner")
    assert maxPayloadBytes >= 0, "maxPayloadBytes must not be negative"
    storage.put_int(KEY_MAX_PAYLOAD, maxPayloadBytes)


@public(name="setSigner")
def set_signer(publicKey: bytes):
    _only(KEY_OWNER, "owner")
    _set_signer(publicKey)


@public(name="setGuard")
def set_guard(account: UInt160):
    _only(KEY_OWNER, "owner")
    _set_role(KEY_GUARD, "guard", account)


@public(name="setOperator")
def set_operator(account: UInt160):
    _only(KEY_OWNER, "owner")
    _set_role(KEY_OPERATOR, "operator", account)


@public(name="transferOwnership")
def transfer_ownership(account: UInt160):
    _only(KEY_OWNER, "owner")
    _set_role(KEY_OWNER, "owner", account)


@public(name="withdrawFees")
def withdraw_fees(to: UInt160, amount: int):
    """Owner: collected GAS to ``to`` (to pay the relaying)."""
    _only(KEY_OWNER, "owner")
    assert amount > 0, "amount must be positive"
    ok = GasToken.transfer(runtime.executing_script_hash, to, amount, None)
    assert ok, "GAS transfer failed"


@public
def update(nefFile: bytes, manifest: bytes, data: Any):
    """Owner: replace the contract's code (storage and hash stay)."""
    _only(KEY_OWNER, "owner")
    ContractManagement.update(nefFile, manifest, data)
