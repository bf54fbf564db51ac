"""Example target of the automation service: a counter that only the automation contract may advance.

Deploy with data = the automation contract's script hash. Register an upkeep for it (from an account:
``registerUpkeep`` on the automation contract with this contract as target; or the contract itself:
``registerSelf``), fund it with GAS (``data`` = the upkeep id), and the service calls:

- ``tick()`` on a cron, interval or event trigger: checks the caller is the automation contract, reads
  ``currentRun()`` (upkeep id, occurrence, data) and counts;
- ``consume()`` on a condition trigger whose check is ``ready()``: true (with data) while ``arm()`` was
  called and not yet consumed, so each ``arm()`` gives exactly one run.

Built on the consumer library (``contracts/lib/nsl_automation.py``).

``ping(n)`` emits ``n`` ``Ping`` notifications: the events an event-triggered upkeep reacts to.
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import CreateNewEvent

from lib.nsl_automation import current_run, register_self

KEY_AUTOMATION = b"a"
KEY_COUNT = b"c"
KEY_LAST = b"l"
KEY_ARMED = b"r"

Ticked = CreateNewEvent([("upkeepId", int), ("occurrence", int), ("count", int), ("data", bytes)], "Ticked")
Ping = CreateNewEvent([("index", int), ("tag", bytes)], "Ping")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslAutomationTarget"
    meta.description = "Example target of the Neo Service Layer automation service"
    meta.add_permission(methods=["currentRun", "registerUpkeep"])
    return meta


@public
def _deploy(data: Any, update: bool):
    """data: the automation contract's script hash."""
    if not update:
        storage.put_uint160(KEY_AUTOMATION, cast(UInt160, data))


def _run() -> list:
    """The running upkeep's [upkeepId, occurrence, data]; aborts unless the automation contract calls."""
    return current_run(storage.get_uint160(KEY_AUTOMATION))


def _count(run: list) -> int:
    count = storage.get_int(KEY_COUNT) + 1
    storage.put_int(KEY_COUNT, count)
    storage.put_list(KEY_LAST, run)
    Ticked(cast(int, run[0]), cast(int, run[1]), count, cast(bytes, run[2]))
    return count


@public
def tick():
    """Called by the automation contract on each due occurrence."""
    _count(_run())


@public
def consume():
    """Called by the automation contract when ``ready()`` held: counts and disarms."""
    run = _run()
    storage.put_int(KEY_ARMED, 0)
    _count(run)


@public(safe=True)
def ready() -> list:
    """The condition: [armed, data]."""
    return [storage.get_int(KEY_ARMED) == 1, b"armed"]


@public
def arm():
    """Anyone: the next condition check holds (once)."""
    storage.put_int(KEY_ARMED, 1)


@public
def ping(n: int):
    """Anyone: emit ``n`` Ping notifications in this transaction."""
    for i in range(n):
        Ping(i, b"ping")


@public(name="registerSelf")
def register_self_upkeep(method: str, kind: int, spec: list, gasLimit: int) -> int:
    """Register an upkeep owned by this contract (its own call is its witness); returns its id."""
    return register_self(storage.get_uint160(KEY_AUTOMATION), method, kind, spec, gasLimit, 0)


@public(safe=True)
def count() -> int:
    """Runs so far."""
    return storage.get_int(KEY_COUNT)


@public(name="lastRun", safe=True)
def last_run() -> list:
    """[upkeepId, occurrence, data] of the last run ([] before any)."""
    data = storage.get(KEY_LAST)
    if len(data) == 0:
        return []
    return cast(list, storage.get_list(KEY_LAST))
