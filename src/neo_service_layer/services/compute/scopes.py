"""The compute service's scopes. Standard library only; the roles that hold them: ``service.SERVICE``."""

from __future__ import annotations

#: the tenant's functions, their runs and receipts
COMPUTE_READ = "compute:read"
#: upload functions and run them
COMPUTE_WRITE = "compute:write"
