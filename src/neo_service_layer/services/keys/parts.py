"""What the keys service's routes and jobs are handed: its use cases and its metrics."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.observability.metrics import KeyMetrics
from neo_service_layer.services.keys.use_cases.keys import KeysService


@dataclass(frozen=True, slots=True)
class KeysParts:
    keys: KeysService
    metrics: KeyMetrics

    async def refresh_rotation_gauge(self) -> int:
        """Count the keys due for rotation into ``nsl_keys_rotation_due``; return the count."""
        due = len(await self.keys.rotation_due())
        self.metrics.rotation_due.set(due)
        return due
