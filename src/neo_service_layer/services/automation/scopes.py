"""The automation service's scopes. Standard library only; the roles that hold them: ``service.SERVICE``."""

from __future__ import annotations

#: the status of upkeeps on chain (trigger, balance, next due occurrence, runs and skips) and of the
#: tenant's own jobs
AUTOMATION_READ = "automation:read"
#: create, pause, resume and delete the tenant's jobs
AUTOMATION_WRITE = "automation:write"
