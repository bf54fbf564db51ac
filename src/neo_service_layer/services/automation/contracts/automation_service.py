"""Automation service: contracts and accounts register upkeeps; the operator performs each due run once.

An **upkeep** is a call (``target.method(*args)``), a trigger, a per-run GAS limit and a GAS balance its
owner funds (``onNEP17Payment`` with ``data`` = the upkeep id) and alone can withdraw, pause, resume,
update or cancel (balance refunded). Triggers (``kind``, ``spec``; encoded by
``services/automation/rules/triggers.py``):

1. cron: ``[minuteMask, hourMask, domMask, monthMask, dowMask, flags, expression]``, UTC;
2. every N seconds: ``[N]``; 3. every N blocks: ``[N]``;
4. event: ``[contract, eventName, argIndex, argValue, ...]`` (checked off chain; see below);
5. condition: ``[checkMethod, everyBlocks]``: ``target.checkMethod()`` is called read-only in ``perform``
   and must return true or ``[true, data]``.

``perform(upkeepId, occurrence, data)`` (the operator only) runs one **occurrence** at most once (a
``performed`` mark per occurrence). What the contract checks for each trigger:

- cron: ``occurrence`` is a minute (unix seconds) after the upkeep was (re)started, not after this
  block's time, and the masks match it (calendar arithmetic below);
- seconds / blocks: ``occurrence`` is ``since + k·N`` (time or height), k ≥ 1, already reached;
- condition: ``occurrence`` is a reached height on the upkeep's block grid and the check holds now
  (its data, not the operator's, is passed on);
- event: ``occurrence`` = block·10⁶ + position of the notification in that block; the block is after the
  start and reached. That the event happened is the operator's word (a contract cannot read past
  notifications); each event runs once, at most ``gasLimit`` + ``baseFee()`` per run.

Before the call the balance must cover ``gasLimit + baseFee()``; the run's GAS (``perform`` itself and
the target's call, measured from its first to its last step) aborts it past ``gasLimit``; the charge
is that GAS plus ``baseFee()`` (the network fee and the few steps outside the measure) and becomes the
service's collected fees, so the operator's cost is paid back by the upkeep, never more than
``gasLimit + baseFee()``. During the call ``currentRun()`` gives the target
``[upkeepId, occurrence, data]``, so it can check that its caller is this contract and which upkeep runs.

Owner, operator, owner delay, pause: ``kernel/chain/contracts/service_admin.py``; fee setting and the
owner's withdrawal of collected fees: ``kernel/chain/contracts/service_funds.py``.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, GasToken, LedgerContract, StdLib
from boa3.sc.types import CallFlags, UInt160
from boa3.sc.utils import CreateNewEvent, abort, call_contract, to_bytes

# fmt: off
# isort: off
from neo_service_layer.kernel.chain.contracts.service_funds import (
    KEY_COLLECTED, base_fee, collected_fees, init_funds, set_fee, withdraw_fees,
)
from neo_service_layer.kernel.chain.contracts.service_admin import (
    cancel_destroy, cancel_update, destroy, init_admin, is_paused, not_paused, only_operator, only_owner,
    operator, owner, pause, schedule_destroy, schedule_update, scheduled_destroy, scheduled_update,
    set_operator, unpause, update, update_delay,
)
# isort: on
# fmt: on

KIND_CRON = 1
KIND_SECONDS = 2
KIND_BLOCKS = 3
KIND_EVENT = 4
KIND_CONDITION = 5

EVENT_SLOT = 1000000
MIN_SECONDS = 10
MAX_SECONDS = 31622400  # 366 days
MAX_BLOCKS = 1000000
MAX_METHOD = 64
MAX_ARGS = 16
MAX_SPEC = 16
MAX_DATA = 1024
MIN_GAS_LIMIT = 1000000  # 0.01 GAS
MAX_GAS_LIMIT = 2000000000  # 20 GAS

STATE_ACTIVE = 1
STATE_PAUSED = 2
STATE_CANCELLED = 3

KEY_NEXT_ID = b"n"
KEY_CURRENT = b"c"  # [upkeepId, occurrence, data] while a run calls its target
PREFIX_UPKEEP = b"u"  # + u64le(id): [owner, target, method, args, kind, spec, gasLimit, catchUp]
PREFIX_STATE = b"s"  # + u64le(id): [state, sinceSeconds, sinceBlock]
PREFIX_BALANCE = b"b"  # + u64le(id): GAS fractions
PREFIX_DONE = b"d"  # + u64le(id) + u64le(occurrence): 1 once performed

U_OWNER = 0
U_TARGET = 1
U_METHOD = 2
U_ARGS = 3
U_KIND = 4
U_SPEC = 5
U_GAS_LIMIT = 6


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslAutomationService"
    meta.description = "Neo Service Layer automation: upkeeps run once per due occurrence"
    meta.add_permission(contract="*", methods="*")  # targets and their methods are the owners' choice
    return meta


UpkeepRegistered = CreateNewEvent(
    [("upkeepId", int), ("owner", UInt160), ("target", UInt160), ("method", str), ("kind", int)],
    "UpkeepRegistered",
)
UpkeepUpdated = CreateNewEvent([("upkeepId", int)], "UpkeepUpdated")
UpkeepStateChanged = CreateNewEvent([("upkeepId", int), ("state", int)], "UpkeepStateChanged")
UpkeepFunded = CreateNewEvent([("upkeepId", int), ("amount", int), ("balance", int)], "UpkeepFunded")
UpkeepWithdrawn = CreateNewEvent([("upkeepId", int), ("amount", int), ("balance", int)], "UpkeepWithdrawn")
UpkeepPerformed = CreateNewEvent(
    [("upkeepId", int), ("occurrence", int), ("gasUsed", int), ("charged", int), ("balance", int)],
    "UpkeepPerformed",
)


def _id(upkeep_id: int) -> bytes:
    return to_bytes(upkeep_id, 8)


def _upkeep(upkeep_id: int) -> list:
    data = storage.get(PREFIX_UPKEEP + _id(upkeep_id))
    if len(data) == 0:
        abort("unknown upkeep")
    return cast(list, StdLib.deserialize(data))


def _state(upkeep_id: int) -> list:
    return cast(list, storage.get_list(PREFIX_STATE + _id(upkeep_id)))


def _start(upkeep_id: int, state: int):
    """(Re)start the upkeep's schedule now: occurrences before this moment are never run."""
    now = runtime.time // 1000
    storage.put_list(PREFIX_STATE + _id(upkeep_id), [state, now, LedgerContract.get_current_index()])


def _only_upkeep_owner(record: list):
    assert runtime.check_witness(cast(UInt160, record[U_OWNER])), "only the upkeep's owner may do this"


def _check_call(target: UInt160, method: str, args: list, kind: int, spec: list, gas_limit: int):
    assert len(method) > 0, "method is required"
    assert len(method) <= MAX_METHOD, "method name is too long"
    assert method[0] != "_", "method must be a public method"
    assert len(args) <= MAX_ARGS, "at most 16 arguments"
    assert ContractManagement.has_method(target, method, len(args)), "target has no such method"
    assert gas_limit >= MIN_GAS_LIMIT, "gasLimit must be at least 0.01 GAS"
    assert gas_limit <= MAX_GAS_LIMIT, "gasLimit must be at most 20 GAS"
    assert len(spec) <= MAX_SPEC, "trigger spec is too long"
    if kind == KIND_CRON:
        assert len(spec) == 7, "cron spec is [minute, hour, dom, month, dow masks, flags, expression]"
        _check_mask(cast(int, spec[0]), 0x0FFFFFFFFFFFFFFF, "minute")
        _check_mask(cast(int, spec[1]), 0xFFFFFF, "hour")
        _check_mask(cast(int, spec[2]), 0xFFFFFFFE, "day of month")
        _check_mask(cast(int, spec[3]), 0x1FFE, "month")
        _check_mask(cast(int, spec[4]), 0x7F, "day of week")
        flags = cast(int, spec[5])
        assert flags >= 0, "cron flags must be 0..3"
        assert flags <= 3, "cron flags must be 0..3"
    elif kind == KIND_SECONDS:
        assert len(spec) == 1, "interval spec is [seconds]"
        seconds = cast(int, spec[0])
        assert seconds >= MIN_SECONDS, "interval must be 10 s to 366 days"
        assert seconds <= MAX_SECONDS, "interval must be 10 s to 366 days"
    elif kind == KIND_BLOCKS:
        assert len(spec) == 1, "interval spec is [blocks]"
        blocks = cast(int, spec[0])
        assert blocks >= 1, "interval must be 1 to 1,000,000 blocks"
        assert blocks <= MAX_BLOCKS, "interval must be 1 to 1,000,000 blocks"
    elif kind == KIND_EVENT:
        assert len(spec) >= 2, "event spec is [contract, eventName, argIndex, argValue, ...]"
        assert len(spec) % 2 == 0, "event filters come in [argIndex, argValue] pairs"
        assert len(cast(bytes, spec[0])) == 20, "event contract must be a 20-byte script hash"
    elif kind == KIND_CONDITION:
        assert len(spec) == 2, "condition spec is [checkMethod, everyBlocks]"
        check = cast(str, spec[0])
        assert len(check) > 0, "checkMethod is required"
        assert check[0] != "_", "checkMethod must be a public method"
        assert ContractManagement.has_method(target, check, 0), "target has no checkMethod without arguments"
        every = cast(int, spec[1])
        assert every >= 1, "everyBlocks must be 1 to 1,000,000"
        assert every <= MAX_BLOCKS, "everyBlocks must be 1 to 1,000,000"
    else:
        abort("unknown trigger kind")


def _check_catch_up(catch_up: int):
    assert catch_up >= 0, "catchUp must be 0 (all) or 1 (latest)"
    assert catch_up <= 1, "catchUp must be 0 (all) or 1 (latest)"


def _check_mask(mask: int, allowed: int, field: str):
    assert mask > 0, "cron mask is empty"
    assert (mask & allowed) == mask, "cron mask has bits outside its field"


def _bit(mask: int, position: int) -> bool:
    return ((mask >> position) & 1) == 1


def _cron_matches(spec: list, t: int) -> bool:
    """The minute ``t`` (unix seconds) matches the masks (UTC; Vixie cron's day-of-month OR day-of-week
    when both are restricted). Calendar: H. Hinnant's civil_from_days, integers only."""
    days = t // 86400
    rest = t - days * 86400
    hour = rest // 3600
    minute = (rest - hour * 3600) // 60
    dow = (days + 4) % 7  # 1970-01-01 was a Thursday
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3
    if mp >= 10:
        month = mp - 9
    if not _bit(cast(int, spec[0]), minute) or not _bit(cast(int, spec[1]), hour):
        return False
    if not _bit(cast(int, spec[3]), month):
        return False
    flags = cast(int, spec[5])
    dom_ok = _bit(cast(int, spec[2]), day)
    dow_ok = _bit(cast(int, spec[4]), dow)
    if flags == 3:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def _check_occurrence(record: list, state: list, occurrence: int):
    """Aborts unless ``occurrence`` is one the upkeep's trigger has reached since it (re)started."""
    kind = cast(int, record[U_KIND])
    spec = cast(list, record[U_SPEC])
    since = cast(int, state[1])
    since_block = cast(int, state[2])
    now = runtime.time // 1000
    height = LedgerContract.get_current_index()
    if kind == KIND_CRON:
        assert occurrence % 60 == 0, "a cron occurrence is a minute"
        assert occurrence > since, "occurrence is before the upkeep started"
        assert _cron_matches(spec, occurrence), "occurrence does not match the cron schedule"
        assert occurrence <= now, "occurrence is not due yet"
    elif kind == KIND_SECONDS:
        assert occurrence > since, "occurrence is before the upkeep started"
        assert (occurrence - since) % cast(int, spec[0]) == 0, "occurrence is not on the interval"
        assert occurrence <= now, "occurrence is not due yet"
    elif kind == KIND_BLOCKS:
        _check_grid(occurrence, since_block, height, cast(int, spec[0]))
    elif kind == KIND_CONDITION:
        _check_grid(occurrence, since_block, height, cast(int, spec[1]))
    else:
        block = occurrence // EVENT_SLOT
        assert block > since_block, "event is before the upkeep started"
        assert block <= height, "event is in a future block"


def _check_grid(occurrence: int, since_block: int, height: int, every: int):
    assert occurrence > since_block, "occurrence is before the upkeep started"
    assert (occurrence - since_block) % every == 0, "occurrence is not on the interval"
    assert occurrence <= height, "occurrence is not due yet"


@public
def _deploy(data: Any, update: bool):
    """data: [owner, operator, updateDelay, refundBlocks (unused here; kept for the shared layout)]."""
    if not update:
        _setup(data)


def _setup(data: Any):
    args = cast(list, [])
    if isinstance(data, list):
        args = data
    init_admin(args, 0)
    init_funds(args, 3)


@public(name="registerUpkeep")
def register_upkeep(
    owner: UInt160,
    target: UInt160,
    method: str,
    args: list,
    kind: int,
    spec: list,
    gasLimit: int,
    catchUp: int,
) -> int:
    """The owner's witness (a contract registering itself calls this): returns the new upkeep's id.
    ``catchUp``: 0 = every occurrence missed while the service was down runs once, 1 = only the latest."""
    not_paused()
    assert runtime.check_witness(owner), "only the owner may register an upkeep for itself"
    _check_catch_up(catchUp)
    _check_call(target, method, args, kind, spec, gasLimit)
    upkeep_id = storage.get_int(KEY_NEXT_ID) + 1
    storage.put_int(KEY_NEXT_ID, upkeep_id)
    storage.put_list(
        PREFIX_UPKEEP + _id(upkeep_id), [owner, target, method, args, kind, spec, gasLimit, catchUp]
    )
    _start(upkeep_id, STATE_ACTIVE)
    UpkeepRegistered(upkeep_id, owner, target, method, kind)
    return upkeep_id


@public(name="updateUpkeep")
def update_upkeep(upkeepId: int, method: str, args: list, kind: int, spec: list, gasLimit: int, catchUp: int):
    """Owner only: a new call and trigger; the schedule starts again now (state kept)."""
    record = _upkeep(upkeepId)
    _only_upkeep_owner(record)
    state = cast(int, _state(upkeepId)[0])
    assert state != STATE_CANCELLED, "upkeep is cancelled"
    _check_catch_up(catchUp)
    target = cast(UInt160, record[U_TARGET])
    _check_call(target, method, args, kind, spec, gasLimit)
    storage.put_list(
        PREFIX_UPKEEP + _id(upkeepId), [record[U_OWNER], target, method, args, kind, spec, gasLimit, catchUp]
    )
    _start(upkeepId, state)
    UpkeepUpdated(upkeepId)


@public(name="pauseUpkeep")
def pause_upkeep(upkeepId: int):
    """Owner only: no run until resumed; occurrences while paused are never run."""
    _only_upkeep_owner(_upkeep(upkeepId))
    state = _state(upkeepId)
    assert cast(int, state[0]) == STATE_ACTIVE, "upkeep is not active"
    storage.put_list(PREFIX_STATE + _id(upkeepId), [STATE_PAUSED, state[1], state[2]])
    UpkeepStateChanged(upkeepId, STATE_PAUSED)


@public(name="resumeUpkeep")
def resume_upkeep(upkeepId: int):
    """Owner only: active again, the schedule starting now."""
    _only_upkeep_owner(_upkeep(upkeepId))
    assert cast(int, _state(upkeepId)[0]) == STATE_PAUSED, "upkeep is not paused"
    _start(upkeepId, STATE_ACTIVE)
    UpkeepStateChanged(upkeepId, STATE_ACTIVE)


@public(name="cancelUpkeep")
def cancel_upkeep(upkeepId: int) -> int:
    """Owner only: the upkeep never runs again and its whole balance goes back to its owner."""
    record = _upkeep(upkeepId)
    _only_upkeep_owner(record)
    state = _state(upkeepId)
    assert cast(int, state[0]) != STATE_CANCELLED, "upkeep is already cancelled"
    storage.put_list(PREFIX_STATE + _id(upkeepId), [STATE_CANCELLED, state[1], state[2]])
    key = PREFIX_BALANCE + _id(upkeepId)
    balance = storage.get_int(key)
    storage.put_int(key, 0)
    if balance > 0:
        to = cast(UInt160, record[U_OWNER])
        assert GasToken.transfer(runtime.executing_script_hash, to, balance, None), "GAS transfer failed"
        UpkeepWithdrawn(upkeepId, balance, 0)
    UpkeepStateChanged(upkeepId, STATE_CANCELLED)
    return balance


@public
def onNEP17Payment(from_address: UInt160 | None, amount: int, data: Any):
    """GAS only: fund the upkeep whose id is ``data`` (anyone may fund; only its owner withdraws)."""
    assert runtime.calling_script_hash == GasToken.hash, "only GAS is accepted"
    assert amount > 0, "amount must be positive"
    assert isinstance(data, int), "data must be the upkeep id"
    upkeep_id = cast(int, data)
    _upkeep(upkeep_id)
    assert cast(int, _state(upkeep_id)[0]) != STATE_CANCELLED, "upkeep is cancelled"
    key = PREFIX_BALANCE + _id(upkeep_id)
    balance = storage.get_int(key) + amount
    storage.put_int(key, balance)
    UpkeepFunded(upkeep_id, amount, balance)


@public(name="withdrawUpkeep")
def withdraw_upkeep(upkeepId: int, to: UInt160, amount: int) -> bool:
    """Owner only: pay out part of the upkeep's balance."""
    _only_upkeep_owner(_upkeep(upkeepId))
    assert amount > 0, "amount must be positive"
    key = PREFIX_BALANCE + _id(upkeepId)
    balance = storage.get_int(key)
    assert amount <= balance, "amount exceeds the balance"
    storage.put_int(key, balance - amount)
    assert GasToken.transfer(runtime.executing_script_hash, to, amount, None), "GAS transfer failed"
    UpkeepWithdrawn(upkeepId, amount, balance - amount)
    return True


@public
def perform(upkeepId: int, occurrence: int, data: bytes):
    """Operator only: run one due occurrence of the upkeep, once (see the module's docstring)."""
    start = runtime.gas_left
    only_operator()
    not_paused()
    record = _upkeep(upkeepId)
    state = _state(upkeepId)
    assert cast(int, state[0]) == STATE_ACTIVE, "upkeep is not active"
    assert len(data) <= MAX_DATA, "data must be at most 1024 bytes"
    done_key = PREFIX_DONE + _id(upkeepId) + to_bytes(occurrence, 8)
    assert len(storage.get(done_key)) == 0, "occurrence already performed"
    _check_occurrence(record, state, occurrence)
    gas_limit = cast(int, record[U_GAS_LIMIT])
    fee = base_fee()
    balance_key = PREFIX_BALANCE + _id(upkeepId)
    balance = storage.get_int(balance_key)
    assert balance >= gas_limit + fee, "balance too low for a run (gasLimit + baseFee)"
    target = cast(UInt160, record[U_TARGET])
    run_data = data
    if cast(int, record[U_KIND]) == KIND_CONDITION:
        run_data = _condition(target, cast(str, cast(list, record[U_SPEC])[0]))
    storage.put(done_key, b"\x01")
    storage.put_list(KEY_CURRENT, [upkeepId, occurrence, run_data])
    call_contract(target, cast(str, record[U_METHOD]), cast(list, record[U_ARGS]))
    storage.delete(KEY_CURRENT)
    used = start - runtime.gas_left
    assert used <= gas_limit, "the run exceeded its gasLimit"
    charged = used + fee
    storage.put_int(balance_key, balance - charged)
    storage.put_int(KEY_COLLECTED, storage.get_int(KEY_COLLECTED) + charged)
    UpkeepPerformed(upkeepId, occurrence, used, charged, balance - charged)


def _condition(target: UInt160, check: str) -> bytes:
    """The target's check, called read-only: true, or [true, data]; aborts when it does not hold."""
    result = call_contract(target, check, [], CallFlags.READ_ONLY)
    if isinstance(result, bool):
        assert cast(bool, result), "condition is false"
        return b""
    assert isinstance(result, list), "checkMethod must return a boolean or [boolean, data]"
    pair = cast(list, result)
    assert len(pair) == 2, "checkMethod must return a boolean or [boolean, data]"
    assert cast(bool, pair[0]), "condition is false"
    run_data = cast(bytes, pair[1])
    assert len(run_data) <= MAX_DATA, "condition data must be at most 1024 bytes"
    return run_data


@public(name="currentRun", safe=True)
def current_run() -> list:
    """[upkeepId, occurrence, data] while a run calls its target; [] otherwise."""
    data = storage.get(KEY_CURRENT)
    if len(data) == 0:
        return []
    return cast(list, storage.get_list(KEY_CURRENT))


@public(name="getUpkeep", safe=True)
def get_upkeep(upkeepId: int) -> list:
    """[owner, target, method, args, kind, spec, gasLimit, catchUp, state, sinceSeconds, sinceBlock,
    balance]; [] for an unknown id."""
    data = storage.get(PREFIX_UPKEEP + _id(upkeepId))
    if len(data) == 0:
        return []
    record = cast(list, storage.get_list(PREFIX_UPKEEP + _id(upkeepId)))
    state = _state(upkeepId)
    record.append(state[0])
    record.append(state[1])
    record.append(state[2])
    record.append(storage.get_int(PREFIX_BALANCE + _id(upkeepId)))
    return record


@public(safe=True)
def performed(upkeepId: int, occurrence: int) -> bool:
    """Whether this occurrence of the upkeep has run."""
    return len(storage.get(PREFIX_DONE + _id(upkeepId) + to_bytes(occurrence, 8))) > 0


@public(name="upkeepCount", safe=True)
def upkeep_count() -> int:
    """Upkeeps registered so far (ids are 1..count)."""
    return storage.get_int(KEY_NEXT_ID)
