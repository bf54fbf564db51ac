"""The automation service's scope. Standard library only; the roles that hold it: ``service.SERVICE``."""

from __future__ import annotations

#: the status of upkeeps on chain: their trigger, balance, next due occurrence, runs and skips
AUTOMATION_READ = "automation:read"
