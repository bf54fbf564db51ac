"""Triggers as the status API shows them (JSON-ready dicts). Standard library only."""

from __future__ import annotations

from neo_service_layer.services.automation.rules.triggers import (
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    Trigger,
)


def describe_trigger(trigger: Trigger) -> dict[str, object]:
    match trigger:
        case CronTrigger():
            return {"kind": "cron", "expression": trigger.expression}
        case IntervalSecondsTrigger():
            return {"kind": "interval_seconds", "seconds": trigger.seconds}
        case IntervalBlocksTrigger():
            return {"kind": "interval_blocks", "blocks": trigger.blocks}
        case EventTrigger():
            return {
                "kind": "event",
                "contract": trigger.contract,
                "event": trigger.event,
                "filters": [{"index": f.index, "value": f.value.hex()} for f in trigger.filters],
            }
        case ConditionTrigger():
            return {"kind": "condition", "method": trigger.method, "every_blocks": trigger.every_blocks}


def trigger_from_description(description: dict[str, object]) -> Trigger | None:
    """The trigger :func:`describe_trigger` showed; ``None`` for anything else (an unreadable record)."""
    kind = description.get("kind")
    try:
        match kind:
            case "cron":
                return CronTrigger.parse(str(description["expression"]))
            case "interval_seconds":
                return IntervalSecondsTrigger(int(str(description["seconds"])))
            case "interval_blocks":
                return IntervalBlocksTrigger(int(str(description["blocks"])))
            case "condition":
                return ConditionTrigger(str(description["method"]), int(str(description["every_blocks"])))
            case "event":
                return EventTrigger(str(description["contract"]), str(description["event"]))
    except (KeyError, ValueError):
        return None
    return None
