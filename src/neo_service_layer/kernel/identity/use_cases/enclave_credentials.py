"""A tenant's *enclave-checked credentials* switch: read it, or turn it on or off with the tenant's key.

When on, the enclave itself refuses the API process's operations on the tenant's keys (sign, create,
rotate, disable, destroy, unsealing a remembered import source) unless they carry one of the tenant's
own enclave-issued API keys with the operation's scope; a compromised API process without such a key
cannot use them. Sessions (password and TOTP) cannot prove the tenant to the enclave, so with the
switch on only API keys use the tenant's keys. The setting lives in the enclave's sealed state, not
in the database: the switch needs an API key of the tenant holding ``tenants:admin`` either way.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.errors import DependencyUnavailable
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.enclave_credentials import EnclaveCredentials
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import CredentialProofRequired


class EnclaveCredentialSwitch:
    def __init__(self, *, enclave: EnclaveCredentials | None, audit: AuditLog) -> None:
        self._enclave = enclave
        self._audit = audit

    def _port(self) -> EnclaveCredentials:
        if self._enclave is None:
            raise DependencyUnavailable("no enclave is configured for this process (NSL_ENCLAVE_TOKEN)")
        return self._enclave

    async def enabled(self, principal: Principal, tenant_id: str) -> bool:
        principal.require(Scopes.TENANTS_ADMIN)
        principal.require_tenant(tenant_id)
        return await self._port().tenant_credentials(tenant_id)

    async def switch(
        self,
        principal: Principal,
        tenant_id: str,
        enabled: bool,
        *,
        fresh_start: bool = False,
        meta: RequestMeta = RequestMeta(),
    ) -> bool:
        """Turn the tenant's enclave-checked credentials on or off; the enclave checks the caller's key.

        ``fresh_start`` (with ``enabled``): every API key of the tenant issued before now stops working
        for its keys, except the caller's, in case one was minted while the tenant did not enforce."""
        principal.require(Scopes.TENANTS_ADMIN)
        principal.require_tenant(tenant_id)
        credential = principal.credential
        if credential is None or credential.tenant != tenant_id:
            raise CredentialProofRequired(
                "switching enclave-checked credentials needs an API key of this tenant with "
                "tenants:admin: a session cannot prove the tenant to the enclave"
            )
        port = self._port().with_credential(credential)
        result = await port.tenant_credentials(tenant_id, enabled, fresh_start=fresh_start and enabled)
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant_id,
                actor=principal.actor,
                action=Actions.TENANT_ENCLAVE_CREDENTIALS,
                outcome=Outcome.SUCCESS,
                target=f"tenant:{tenant_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details={"enabled": str(result).lower(), "fresh_start": str(fresh_start and enabled).lower()},
            )
        )
        return result
