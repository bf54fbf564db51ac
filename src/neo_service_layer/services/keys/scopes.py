"""The keys service's scopes. Standard library only; the roles that hold them: ``service.SERVICE``."""

from __future__ import annotations

#: sign with a tenant key (sign, sign-batch)
KEYS_SIGN = "keys:sign"
#: create, rotate, disable a key, schedule or cancel its destruction
KEYS_ADMIN = "keys:admin"
#: list and read the tenant's keys, verify signatures
KEYS_READ = "keys:read"
