"""Readiness of the components a process depends on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One component's answer to a readiness check. ``critical`` components make the process unready."""

    name: str
    ok: bool
    detail: str = ""
    critical: bool = True
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Readiness:
    components: tuple[ComponentStatus, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.components if c.critical)
