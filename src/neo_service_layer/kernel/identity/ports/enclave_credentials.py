"""Port: the enclave's own checks of a tenant's credentials (``enclave/tenant_credentials.py``).

The API issues API keys through it (the enclave tags them with a key the API never sees), tells it
about revocations, and switches a tenant's *enclave-checked credentials* on or off. Adapter: the
kernel's ``EnclaveClient``.
"""

from __future__ import annotations

from typing import Protocol

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.kernel.identity.rules.accounts import TenantId


class EnclaveCredentials(Protocol):
    def with_credential(self, credential: ApiKeyCredential | None) -> EnclaveCredentials:
        """The same port, sending the caller's API key along (an enforcing tenant's key issuing needs it)."""
        ...

    async def issue_api_key(
        self, *, tenant: TenantId, key_id: str, prefix: str, scopes: list[str], expires_at: int | None
    ) -> str:
        """The secret part of a new API key (after ``nsl_<prefix>_``), tagged by the enclave."""
        ...

    async def revoke_api_key(self, key_id: str) -> None:
        """The enclave refuses this API key from now on."""
        ...

    async def tenant_credentials(
        self, tenant: TenantId, enabled: bool | None = None, *, fresh_start: bool = False
    ) -> bool:
        """Whether ``tenant`` enforces enclave-checked credentials; switch first when ``enabled`` is given
        (``CredentialRequired`` unless the credential sent along is the tenant's, with ``tenants:admin``).
        ``fresh_start`` with ``enabled``: the tenant's keys issued before now are refused, except the
        one sent along."""
        ...
