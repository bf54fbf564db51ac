"""The enclave client's part for enclave-checked tenant credentials (``enclave/tenant_credentials.py``).

``with_credential`` gives a view of the client that sends the caller's API key (and the claims the API
read for it) with every call, so the enclave can check it for a tenant that enforces; the other three
methods issue, revoke and switch. The raw key travels only to the enclave, never into logs.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any, Self

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import TenantId
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class CredentialCalls:
    """Mixed into ``EnclaveClient``: the calls go through its ``_call``; ``_credential`` is sent along."""

    _credential: dict[str, Any] | None = None

    #: the RPC call of the client this is mixed into (``EnclaveClient._call``)
    _call: Callable[..., Awaitable[dict[str, Any]]]

    def with_credential(self, credential: ApiKeyCredential | None) -> Self:
        """This client sending ``credential`` with each call (itself when ``credential`` is None)."""
        if credential is None:
            return self
        view = copy.copy(self)  # shares the transport and its pool
        view._credential = credential.to_wire()
        return view

    def _with_credential_args(self, args: dict[str, Any]) -> dict[str, Any]:
        return args if self._credential is None else {**args, "credential": self._credential}

    async def issue_api_key(
        self,
        *,
        tenant: TenantId,
        key_id: str,
        prefix: str,
        scopes: list[str],
        expires_at: int | None,
    ) -> str:
        args = {
            "tenant": tenant,
            "key_id": key_id,
            "prefix": prefix,
            "scopes": sorted(scopes),
            "expires_at": expires_at,
        }
        secret = (await self._call("issue_api_key", args, idempotent=False)).get("secret")
        if not isinstance(secret, str):
            raise EnclaveRequestRejected("bad_response", "issue_api_key answered without a secret")
        return secret

    async def revoke_api_key(self, key_id: str) -> None:
        await self._call("revoke_api_key", {"key_id": key_id}, idempotent=True)

    async def tenant_credentials(
        self, tenant: TenantId, enabled: bool | None = None, *, fresh_start: bool = False
    ) -> bool:
        """Whether ``tenant`` enforces enclave-checked credentials; switch first when ``enabled`` is given."""
        args = {"tenant": tenant, "enabled": enabled, "fresh_start": fresh_start}
        result = await self._call("tenant_credentials", args, idempotent=True)
        return result.get("enabled") is True
