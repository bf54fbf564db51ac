"""Enclave-checked tenant credentials: the API key a caller presented, as host and enclave exchange it.

An API key issued through the enclave (``issue_api_key``) is ``nsl_<prefix>_<secret>`` whose secret is
a random part and a tag only the enclave can compute (HMAC-SHA256 under a credential key sealed in its
state directory) over the key's tenant, id, prefix, scopes and expiry. For a tenant that switched on
enclave-checked credentials, the ``api`` client's tenant-key operations carry the presented key and
these claims (:class:`ApiKeyCredential`); the enclave recomputes the tag, so a host without the
tenant's key cannot make up one, widen its scopes or lengthen its life.

The scope each operation needs is written here by name: the enclave imports no host code, and a test
checks that these names are the services' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neo_service_layer.enclave.wire.keys import CredentialRequired

#: the domain separation of the tag (changing it invalidates every enclave-issued key)
TAG_DOMAIN = "nsl-apikey-v1"

KEYS_SIGN = "keys:sign"
KEYS_ADMIN = "keys:admin"
SECRETS_WRITE = "secrets:write"
APIKEYS_ADMIN = "apikeys:admin"
TENANTS_ADMIN = "tenants:admin"
ORACLE_REQUEST = "oracle:request"
COMPUTE_WRITE = "compute:write"
AUTOMATION_WRITE = "automation:write"

#: the ``api`` client's operations an enforcing tenant's key must allow, and the scope each needs
OPERATION_SCOPES: Mapping[str, str] = {
    "sign": KEYS_SIGN,
    "sign_batch": KEYS_SIGN,
    "sign_batch_packed": KEYS_SIGN,
    "create_key": KEYS_ADMIN,
    "rotate": KEYS_ADMIN,
    "disable": KEYS_ADMIN,
    "enable": KEYS_ADMIN,
    "destroy": KEYS_ADMIN,
    "unseal": SECRETS_WRITE,  # only a remembered import source reaches the api's unseal
    "automation_grant": AUTOMATION_WRITE,  # a job calling a contract with one of the tenant's keys
}

MAX_SCOPES = 64
MAX_SCOPE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    """The API key a caller presented, with the claims the API read for it from its database.

    Attributes:
        api_key: the full key ``nsl_<prefix>_<secret>`` as presented (never logged: ``repr`` hides it).
        tenant: the key's tenant.
        key_id: the key's id (what the enclave's revocation list names).
        scopes: the key's scopes.
        expires_at: the key's expiry in whole Unix seconds, or None.
    """

    api_key: str = field(repr=False)
    tenant: str
    key_id: str
    scopes: tuple[str, ...]
    expires_at: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "tenant": self.tenant,
            "key_id": self.key_id,
            "scopes": sorted(self.scopes),
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_wire(cls, data: object) -> ApiKeyCredential:
        """Parse what ``to_wire`` made; anything else raises ``CredentialRequired``."""
        if not isinstance(data, Mapping):
            raise CredentialRequired("the credential must be an object")
        api_key, tenant, key_id = data.get("api_key"), data.get("tenant"), data.get("key_id")
        scopes, expires_at = data.get("scopes"), data.get("expires_at")
        if not (isinstance(api_key, str) and isinstance(tenant, str) and isinstance(key_id, str)):
            raise CredentialRequired("the credential needs api_key, tenant and key_id")
        if not (
            isinstance(scopes, list)
            and len(scopes) <= MAX_SCOPES
            and all(isinstance(s, str) and 0 < len(s) <= MAX_SCOPE_LENGTH for s in scopes)
        ):
            raise CredentialRequired("the credential's scopes must be a list of scope names")
        if expires_at is not None and (not isinstance(expires_at, int) or isinstance(expires_at, bool)):
            raise CredentialRequired("the credential's expires_at must be whole seconds or null")
        return cls(api_key, tenant, key_id, tuple(scopes), expires_at)


__all__ = ["ApiKeyCredential", "CredentialRequired"]
