"""The secrets service's scopes. Standard library only; the roles that hold them: ``service.SERVICE``."""

from __future__ import annotations

#: put, rotate and delete secrets; import them from Vault, AWS Secrets Manager or Azure Key Vault
SECRETS_WRITE = "secrets:write"
#: the metadata of secrets, never a value: list, get, versions, remembered sources
SECRETS_READ = "secrets:read"
