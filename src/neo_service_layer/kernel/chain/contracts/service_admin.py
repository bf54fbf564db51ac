"""Roles and the owner delay, shared by every service contract (neo3-boa library, not a contract).

- ``owner``: the cold administration account (a committee or multisig account on real networks, a
  key of its own in development). Only it changes keys, fees, the operator, pauses, and schedules an
  ``update`` or ``destroy``.
- ``operator``: the hot account the services send with. It may only do what the running service
  needs (``markCallbackFailed``); it can never update, destroy, change a key or a fee, or take money.
- **owner delay**: ``scheduleUpdate(nefHash, manifestHash)`` announces an update on chain
  (``UpdateScheduled``); ``update(nef, manifest)`` applies it only at or after the announced height
  (scheduling height + ``updateDelay()`` blocks) and only with exactly those SHA-256 hashes.
  ``scheduleDestroy``/``destroy`` work the same way, so consumers see every change coming and can
  withdraw first. The delay is chosen at deploy within [MIN_DELAY, MAX_DELAY] and never changes.

A contract imports the public methods it exposes from here (neo3-boa puts an imported ``@public``
function in the importer's ABI) and calls ``init_admin`` from its ``_deploy``. Storage keys start
with ``_a`` (the library's own keys never collide with a contract's).
"""

from typing import cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import public
from boa3.sc.contracts import ContractManagement, CryptoLib, LedgerContract
from boa3.sc.types import Transaction, UInt160
from boa3.sc.utils import CreateNewEvent

#: smallest owner delay (a privnet test); production deploys default to about a day at 15 s blocks
MIN_DELAY = 1
DEFAULT_DELAY = 5760
MAX_DELAY = 172800  # about a month at 15 s blocks

KEY_OWNER = b"_ao"
KEY_OPERATOR = b"_ar"
KEY_DELAY = b"_ad"
KEY_PAUSED = b"_ap"
KEY_UPDATE = b"_au"  # [nefHash, manifestHash, effectiveHeight] of the scheduled update
KEY_DESTROY = b"_ax"  # effective height of the scheduled destroy

OperatorChanged = CreateNewEvent([("operator", UInt160)], "OperatorChanged")
UpdateScheduled = CreateNewEvent(
    [("nefHash", bytes), ("manifestHash", bytes), ("effectiveHeight", int)], "UpdateScheduled"
)
UpdateCancelled = CreateNewEvent([("nefHash", bytes), ("manifestHash", bytes)], "UpdateCancelled")
DestroyScheduled = CreateNewEvent([("effectiveHeight", int)], "DestroyScheduled")
DestroyCancelled = CreateNewEvent([("effectiveHeight", int)], "DestroyCancelled")


def init_admin(args: list, first: int):
    """From ``_deploy``: ``args[first:first + 3]`` = [owner, operator, delay] (missing entries: the
    transaction sender, the sender, DEFAULT_DELAY)."""
    tx_sender = cast(Transaction, runtime.script_container).sender
    owner_hash = tx_sender
    operator_hash = tx_sender
    delay = DEFAULT_DELAY
    if len(args) > first:
        owner_hash = cast(UInt160, args[first])
    if len(args) > first + 1:
        operator_hash = cast(UInt160, args[first + 1])
    if len(args) > first + 2:
        delay = cast(int, args[first + 2])
    assert len(owner_hash) == 20, "owner must be a script hash"
    assert len(operator_hash) == 20, "operator must be a script hash"
    assert delay >= MIN_DELAY, "update delay is below the minimum"
    assert delay <= MAX_DELAY, "update delay is above the maximum"
    storage.put_uint160(KEY_OWNER, owner_hash)
    storage.put_uint160(KEY_OPERATOR, operator_hash)
    storage.put_int(KEY_DELAY, delay)


def only_owner():
    assert runtime.check_witness(storage.get_uint160(KEY_OWNER)), "only the owner may do this"


def only_operator():
    assert runtime.check_witness(storage.get_uint160(KEY_OPERATOR)), "only the operator may do this"


def not_paused():
    assert storage.get_int(KEY_PAUSED) == 0, "service is paused"


def _effective_height() -> int:
    return LedgerContract.get_current_index() + storage.get_int(KEY_DELAY)


@public(safe=True)
def owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


@public(safe=True)
def operator() -> UInt160:
    return storage.get_uint160(KEY_OPERATOR)


@public(name="setOperator")
def set_operator(account: UInt160):
    """Owner only: the hot account the services send with."""
    only_owner()
    assert len(account) == 20, "operator must be a script hash"
    storage.put_uint160(KEY_OPERATOR, account)
    OperatorChanged(account)


@public(name="updateDelay", safe=True)
def update_delay() -> int:
    """Blocks between scheduling an update (or destroy) and applying it."""
    return storage.get_int(KEY_DELAY)


@public(name="scheduledUpdate", safe=True)
def scheduled_update() -> list:
    """[nefHash, manifestHash, effectiveHeight] of the scheduled update ([b'', b'', 0] if none)."""
    data = storage.get(KEY_UPDATE)
    if len(data) == 0:
        return [b"", b"", 0]
    return cast(list, storage.get_list(KEY_UPDATE))


@public(name="scheduledDestroy", safe=True)
def scheduled_destroy() -> int:
    """Height from which ``destroy`` is allowed (0 if none is scheduled)."""
    return storage.get_int(KEY_DESTROY)


@public(name="scheduleUpdate")
def schedule_update(nefHash: bytes, manifestHash: bytes) -> int:
    """Owner only: announce an update to exactly these SHA-256 hashes; returns the height from which
    ``update`` may apply it. Replaces an earlier schedule (the delay starts again)."""
    only_owner()
    assert len(nefHash) == 32, "nefHash must be 32 bytes"
    assert len(manifestHash) == 32, "manifestHash must be 32 bytes"
    height = _effective_height()
    storage.put_list(KEY_UPDATE, [nefHash, manifestHash, height])
    UpdateScheduled(nefHash, manifestHash, height)
    return height


@public(name="cancelUpdate")
def cancel_update():
    """Owner only: drop the scheduled update."""
    only_owner()
    scheduled = scheduled_update()
    assert cast(int, scheduled[2]) > 0, "no update is scheduled"
    storage.delete(KEY_UPDATE)
    UpdateCancelled(cast(bytes, scheduled[0]), cast(bytes, scheduled[1]))


@public
def update(nef_file: bytes, manifest: bytes):
    """Owner only: apply the scheduled update once its height is reached (storage is kept)."""
    only_owner()
    scheduled = scheduled_update()
    height = cast(int, scheduled[2])
    assert height > 0, "no update is scheduled"
    assert LedgerContract.get_current_index() >= height, "the update delay has not passed"
    assert CryptoLib.sha256(nef_file) == cast(bytes, scheduled[0]), "nef does not match the schedule"
    assert CryptoLib.sha256(manifest) == cast(bytes, scheduled[1]), "manifest does not match the schedule"
    storage.delete(KEY_UPDATE)
    ContractManagement.update(nef_file, manifest)


@public(name="scheduleDestroy")
def schedule_destroy() -> int:
    """Owner only: announce ``destroy``; returns the height from which it is allowed."""
    only_owner()
    height = _effective_height()
    storage.put_int(KEY_DESTROY, height)
    DestroyScheduled(height)
    return height


@public(name="cancelDestroy")
def cancel_destroy():
    """Owner only: drop the scheduled destroy."""
    only_owner()
    height = storage.get_int(KEY_DESTROY)
    assert height > 0, "no destroy is scheduled"
    storage.delete(KEY_DESTROY)
    DestroyCancelled(height)


@public
def destroy():
    """Owner only: remove the contract and its storage for good, once the scheduled height is reached."""
    only_owner()
    height = storage.get_int(KEY_DESTROY)
    assert height > 0, "no destroy is scheduled"
    assert LedgerContract.get_current_index() >= height, "the destroy delay has not passed"
    ContractManagement.destroy()


@public
def pause():
    """Owner only: refuse new requests (fulfilment, delivery, refunds and withdrawals continue)."""
    only_owner()
    storage.put_int(KEY_PAUSED, 1)


@public
def unpause():
    """Owner only."""
    only_owner()
    storage.put_int(KEY_PAUSED, 0)


@public(name="isPaused", safe=True)
def is_paused() -> bool:
    return storage.get_int(KEY_PAUSED) != 0
