"""What a run whose dry run faults becomes: retried after a pause, or failed with the VM's reason.

A run is never sent while its dry run faults. Reasons that cannot change by waiting (the condition is
false now, the upkeep is not active, the occurrence already ran or is not one of the trigger's) fail
at once; the others (balance too low, gas limit, the target faults) are retried ``MAX_FAULTS - 1`` times,
``backoff`` apart, then failed. Standard library only.
"""

from __future__ import annotations

from neo_service_layer.services.automation.rules.schedule import SkipReason

MAX_FAULTS = 3
FIRST_BACKOFF_SECONDS = 5.0

#: the contract's abort messages (``automation_service.py``) and what they mean
_REASONS: tuple[tuple[str, SkipReason], ...] = (
    ("balance too low", SkipReason.BALANCE_TOO_LOW),
    ("exceeded its gasLimit", SkipReason.GAS_LIMIT),
    ("condition is false", SkipReason.CONDITION_FALSE),
    ("upkeep is not active", SkipReason.PAUSED),
)
_FINAL = (
    "condition is false",
    "upkeep is not active",
    "already performed",
    "before the upkeep started",
    "does not match the cron schedule",
    "is not on the interval",
    "unknown upkeep",
    "faulted on chain",
)


def skip_reason(vm_exception: str | None) -> SkipReason:
    text = vm_exception or ""
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return SkipReason.DRY_RUN_FAULTED


def final(vm_exception: str | None, faults: int) -> bool:
    """Whether the run fails now (instead of being tried again after ``backoff``)."""
    text = vm_exception or ""
    return faults >= MAX_FAULTS or any(needle in text for needle in _FINAL)


def backoff(faults: int) -> float:
    """Seconds before a run that faulted ``faults`` times is tried again: 5, 20, 80..."""
    return FIRST_BACKOFF_SECONDS * float(4 ** max(faults - 1, 0))
