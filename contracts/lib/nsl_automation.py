"""Automation for neo3-boa targets: register an upkeep, and check a run comes from the service.

The automation contract calls the target's method with no arguments; the method starts with
``run = current_run(automation)`` ([upkeepId, occurrence, data]), which refuses any other caller.
"""

from typing import cast

from boa3.sc import runtime
from boa3.sc.types import CallFlags, UInt160
from boa3.sc.utils import call_contract

from lib.nsl_service import only_service, require_service


def current_run(automation: UInt160) -> list:
    """The running upkeep's [upkeepId, occurrence, data]; FAULTs unless ``automation`` is calling and a
    run is in progress. Needs the permission to call the automation contract's ``currentRun``."""
    only_service(automation, "only the automation contract may call this")
    run = cast(list, call_contract(automation, "currentRun", [], CallFlags.READ_ONLY))
    assert len(run) == 3, "no automation run in progress"
    return run


def register_self(
    automation: UInt160, method: str, kind: int, spec: list, gas_limit: int, catch_up: int
) -> int:
    """Register an upkeep owned by and targeting this contract (its own call is the owner's witness);
    returns the upkeep id. Needs the ``registerUpkeep`` permission."""
    me = runtime.executing_script_hash
    arguments = [me, me, method, [], kind, spec, gas_limit, catch_up]
    return cast(int, call_contract(require_service(automation), "registerUpkeep", arguments))
