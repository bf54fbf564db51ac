"""Consumers' money, shared by every service contract that takes fees (neo3-boa library, not a contract).

- **balances**: anyone prepays GAS for a consumer (``onNEP17Payment``, GAS only, ``data`` = the
  consumer); only the consumer takes it back (``withdraw(consumer, to, amount)``, its witness: a
  contract consumer withdraws through its own call).
- **escrow**: a request's price leaves the balance into the request's escrow (``escrow_fee``); it
  becomes the service's collected fees only when the request is answered (``settle_fee``; an unused
  part goes back to the balance), or back to the balance when an unanswered request is refunded after
  ``refundBlocks()`` blocks (``refund_fee``).
- **price**: ``baseFee()`` + ``callbackGasCap()`` (the most GAS a consumer's callback may burn in
  ``deliver``; a contract stores the cap a request paid for with it, and ``measure_callback_end``
  enforces it on every delivery); a contract adds its own parts.
- the owner withdraws only collected fees (``withdrawFees``), never balances or escrow.

Storage keys start with ``_f``; request ids are 8-byte little-endian in keys.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import public
from boa3.sc.contracts import GasToken, LedgerContract
from boa3.sc.types import UInt160
from boa3.sc.utils import CreateNewEvent, abort, to_bytes

from neo_service_layer.kernel.chain.contracts.service_admin import only_owner

DEFAULT_BASE_FEE = 10_000_000  # 0.1 GAS
DEFAULT_CALLBACK_GAS_CAP = 50_000_000  # 0.5 GAS
MAX_CALLBACK_GAS_CAP = 2_000_000_000  # 20 GAS
MIN_REFUND_BLOCKS = 1
DEFAULT_REFUND_BLOCKS = 5760  # about a day at 15 s blocks
MAX_REFUND_BLOCKS = 172800

KEY_BASE_FEE = b"_ff"
KEY_GAS_CAP = b"_fg"
KEY_REFUND_BLOCKS = b"_ft"
KEY_COLLECTED = b"_fc"
KEY_ESCROWED = b"_fe"  # total held in escrow
PREFIX_BALANCE = b"_fB"
PREFIX_ESCROW = b"_fE"  # + u64le(requestId): [amount, height]

BalanceCredited = CreateNewEvent([("consumer", UInt160), ("amount", int)], "BalanceCredited")
BalanceWithdrawn = CreateNewEvent(
    [("consumer", UInt160), ("to", UInt160), ("amount", int)], "BalanceWithdrawn"
)
FeeRefunded = CreateNewEvent([("requestId", int), ("consumer", UInt160), ("amount", int)], "FeeRefunded")


def init_funds(args: list, first: int):
    """From ``_deploy``: ``args[first]`` = refund timeout in blocks (missing: DEFAULT_REFUND_BLOCKS)."""
    timeout = DEFAULT_REFUND_BLOCKS
    if len(args) > first:
        timeout = cast(int, args[first])
    assert timeout >= MIN_REFUND_BLOCKS, "refund timeout is below the minimum"
    assert timeout <= MAX_REFUND_BLOCKS, "refund timeout is above the maximum"
    storage.put_int(KEY_REFUND_BLOCKS, timeout)
    storage.put_int(KEY_BASE_FEE, DEFAULT_BASE_FEE)
    storage.put_int(KEY_GAS_CAP, DEFAULT_CALLBACK_GAS_CAP)


def _escrow_key(request_id: int) -> bytes:
    return PREFIX_ESCROW + to_bytes(request_id, 8)


def _add(key: bytes, amount: int):
    storage.put_int(key, storage.get_int(key) + amount)


def escrow_fee(consumer: UInt160, request_id: int, price: int):
    """Move ``price`` from the consumer's balance into the request's escrow (aborts if short)."""
    balance_key = PREFIX_BALANCE + consumer
    balance = storage.get_int(balance_key)
    if balance < price:
        abort("insufficient prepaid balance: send GAS to the service with data = consumer script hash")
    storage.put_int(balance_key, balance - price)
    storage.put_list(_escrow_key(request_id), [price, LedgerContract.get_current_index()])
    _add(KEY_ESCROWED, price)


def settle_fee(consumer: UInt160, request_id: int, unused: int):
    """The request is answered: its escrow becomes collected fees, except ``unused`` (back to the
    consumer's balance)."""
    key = _escrow_key(request_id)
    amount = cast(int, cast(list, storage.get_list(key))[0])
    assert unused >= 0, "unused must not be negative"
    assert unused <= amount, "unused exceeds the escrow"
    storage.delete(key)
    _add(KEY_ESCROWED, -amount)
    _add(KEY_COLLECTED, amount - unused)
    if unused > 0:
        _add(PREFIX_BALANCE + consumer, unused)


def refund_fee(consumer: UInt160, request_id: int):
    """An unanswered request's escrow back to the consumer's balance, once ``refundBlocks()`` blocks
    have passed since the request (aborts before)."""
    key = _escrow_key(request_id)
    escrow = cast(list, storage.get_list(key))
    amount = cast(int, escrow[0])
    due = cast(int, escrow[1]) + storage.get_int(KEY_REFUND_BLOCKS)
    assert LedgerContract.get_current_index() >= due, "the request may still be answered: refund later"
    storage.delete(key)
    _add(KEY_ESCROWED, -amount)
    _add(PREFIX_BALANCE + consumer, amount)
    FeeRefunded(request_id, consumer, amount)


def measure_callback_start() -> int:
    return runtime.gas_left


def measure_callback_end(start: int, cap: int):
    """ABORT (uncatchable: the whole delivery faults) when the callback burnt more than ``cap`` (the
    cap the request paid for)."""
    assert start - runtime.gas_left <= cap, "callback exceeded the GAS cap"


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
    _add(PREFIX_BALANCE + consumer, amount)
    BalanceCredited(consumer, amount)


@public(name="balanceOf", safe=True)
def balance_of(consumer: UInt160) -> int:
    """Prepaid GAS balance of ``consumer`` (fractions), not counting its escrow."""
    return storage.get_int(PREFIX_BALANCE + consumer)


@public
def withdraw(consumer: UInt160, to: UInt160, amount: int) -> bool:
    """The consumer only (its witness; a contract calls this itself): pay out its prepaid balance."""
    assert runtime.check_witness(consumer), "only the consumer may withdraw its balance"
    assert amount > 0, "amount must be positive"
    key = PREFIX_BALANCE + consumer
    balance = storage.get_int(key)
    assert amount <= balance, "amount exceeds the balance"
    storage.put_int(key, balance - amount)
    assert GasToken.transfer(runtime.executing_script_hash, to, amount, None), "GAS transfer failed"
    BalanceWithdrawn(consumer, to, amount)
    return True


@public(name="escrowOf", safe=True)
def escrow_of(requestId: int) -> int:
    """GAS held for an unanswered request (0 once answered or refunded)."""
    data = storage.get(_escrow_key(requestId))
    if len(data) == 0:
        return 0
    return cast(int, cast(list, storage.get_list(_escrow_key(requestId)))[0])


@public(name="escrowedFees", safe=True)
def escrowed_fees() -> int:
    """GAS held for every unanswered request."""
    return storage.get_int(KEY_ESCROWED)


@public(name="collectedFees", safe=True)
def collected_fees() -> int:
    """Fees earned by answered requests and not yet withdrawn by the owner."""
    return storage.get_int(KEY_COLLECTED)


@public(name="baseFee", safe=True)
def base_fee() -> int:
    return storage.get_int(KEY_BASE_FEE)


@public(name="callbackGasCap", safe=True)
def callback_gas_cap() -> int:
    """Most GAS a consumer's callback may burn in one ``deliver``; part of every request's price."""
    return storage.get_int(KEY_GAS_CAP)


@public(name="refundBlocks", safe=True)
def refund_blocks() -> int:
    """Blocks after its request from which an unanswered request may be refunded."""
    return storage.get_int(KEY_REFUND_BLOCKS)


@public(name="setFee")
def set_fee(amount: int):
    """Owner only: the base fee per request in GAS fractions (requests already made keep their price)."""
    only_owner()
    assert amount >= 0, "fee must not be negative"
    storage.put_int(KEY_BASE_FEE, amount)


@public(name="setCallbackGasCap")
def set_callback_gas_cap(amount: int):
    """Owner only: the callback GAS cap (part of the price of later requests)."""
    only_owner()
    assert amount > 0, "the callback GAS cap must be positive"
    assert amount <= MAX_CALLBACK_GAS_CAP, "the callback GAS cap must be at most 20 GAS"
    storage.put_int(KEY_GAS_CAP, amount)


@public(name="withdrawFees")
def withdraw_fees(to: UInt160, amount: int) -> bool:
    """Owner only: pay out collected (earned) fees; never balances or escrow."""
    only_owner()
    assert amount > 0, "amount must be positive"
    collected = storage.get_int(KEY_COLLECTED)
    assert amount <= collected, "amount exceeds collected fees"
    storage.put_int(KEY_COLLECTED, collected - amount)
    assert GasToken.transfer(runtime.executing_script_hash, to, amount, None), "GAS transfer failed"
    return True
