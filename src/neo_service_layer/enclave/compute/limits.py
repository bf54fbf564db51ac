"""Per-run limits: what a function asks for, capped by the operator's maxima (the enclave's settings).

A run asks for limits (the function's settings, passed by the host); the enclave refuses any above its
own maxima with the name and value of the limit, so a host cannot widen them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from neo_service_layer.enclave.wire.keys import InvalidKeyRequest

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunLimits:
    """What one run may use. ``fuel`` is wasmtime's instruction budget: the default lets a Python busy
    loop run about as long as the default wall time (2e9 lasted 0.5 to 0.9 s, bench/RESULTS.md)."""

    fuel: int = 20_000_000_000
    memory_bytes: int = 128 * MIB
    wall_ms: int = 10_000
    fetches: int = 5
    fetch_response_bytes: int = 1 * MIB
    fetch_timeout_ms: int = 5_000
    result_bytes: int = 64 * 1024

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: what a run gets for a limit it does not name
DEFAULT_LIMITS = RunLimits()
#: the operator's maxima unless the enclave's settings say otherwise
DEFAULT_MAXIMA = RunLimits(
    fuel=200_000_000_000,
    memory_bytes=512 * MIB,
    wall_ms=60_000,
    fetches=20,
    fetch_response_bytes=4 * MIB,
    fetch_timeout_ms=20_000,
    result_bytes=1 * MIB,
)
#: the least a run may ask for: a Python function needs about 20 MiB of memory to start
MINIMA = RunLimits(
    fuel=1_000_000,
    memory_bytes=32 * MIB,
    wall_ms=100,
    fetches=0,
    fetch_response_bytes=1024,
    fetch_timeout_ms=100,
    result_bytes=1,
)


def requested_limits(value: Mapping[str, Any] | None, maxima: RunLimits, default: RunLimits) -> RunLimits:
    """The limits a run asks for (missing ones from ``default`` capped by ``maxima``), each checked
    against the minimum and the operator's maximum; the refusal names the limit and both values."""
    limits = replace(
        default, **{f.name: min(getattr(default, f.name), getattr(maxima, f.name)) for f in fields(default)}
    )
    if not value:
        return limits
    names = {f.name for f in fields(RunLimits)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise InvalidKeyRequest(f"unknown limit {unknown[0][:40]!r} (known: {', '.join(sorted(names))})")
    chosen: dict[str, int] = {}
    for name, raw in value.items():
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise InvalidKeyRequest(f"limit {name} must be an integer")
        low, high = getattr(MINIMA, name), getattr(maxima, name)
        if raw < low:
            raise InvalidKeyRequest(f"limit {name} = {raw} is below the minimum {low}")
        if raw > high:
            raise InvalidKeyRequest(f"limit {name} = {raw} is above the operator's maximum {high}")
        chosen[name] = raw
    return replace(limits, **chosen)
