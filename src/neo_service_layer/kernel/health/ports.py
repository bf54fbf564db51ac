"""Readiness checks: each adapter that the process depends on contributes one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from neo_service_layer.kernel.health.rules import ComponentStatus

ReadinessCheck: TypeAlias = Callable[[], Awaitable[ComponentStatus]]
