"""The enclave client's part for tenant jobs calling a contract: ``automation_grant`` and ``automation_sign``.

The api asks for a grant when a job is created (its caller's API key goes along for an enforcing
tenant); the worker asks for each transaction's signature with that grant (``enclave/job_signing.py``).
Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from neo_service_layer.enclave.wire.automation import JobGrant
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import KeyId, TenantId
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class JobCalls:
    """Mixed into ``EnclaveClient``: calls go through its ``_keyed`` (a key not loaded is loaded once)."""

    _keyed: Callable[..., Awaitable[dict[str, Any]]]

    async def automation_grant(
        self,
        *,
        tenant: TenantId,
        job_id: str,
        key_id: KeyId,
        network_magic: int,
        script: bytes,
        max_system_fee: int,
    ) -> JobGrant:
        """Have the enclave read ``script`` (one contract call) and seal it as the job's only call."""
        args = {
            "tenant": tenant,
            "job_id": job_id,
            "key_id": key_id,
            "network_magic": network_magic,
            "script": b64encode(script),
            "max_system_fee": max_system_fee,
        }
        result = await self._keyed("automation_grant", key_id, None, args, idempotent=True)
        try:
            return JobGrant(
                grant=b64decode(result["grant"]),
                account=str(result["account"]),
                public_key=bytes.fromhex(result["public_key"]),
                contract=str(result["contract"]),
                method=str(result["method"]),
                arguments=int(result["arguments"]),
            )
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected("bad_response", "automation_grant answered malformed") from None

    async def automation_sign(
        self,
        *,
        tenant: TenantId,
        job_id: str,
        key_id: KeyId,
        grant: bytes,
        transaction: bytes,
        network_magic: int,
        height: int,
    ) -> bytes:
        """The job key's 64-byte signature of ``transaction`` (unsigned bytes), if the grant allows it."""
        args = {
            "tenant": tenant,
            "job_id": job_id,
            "grant": b64encode(grant),
            "transaction": b64encode(transaction),
            "network_magic": network_magic,
            "height": height,
        }
        result = await self._keyed("automation_sign", key_id, None, args, idempotent=True)
        try:
            signature = b64decode(result["signature"])
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected("bad_response", "automation_sign answered no signature") from None
        if len(signature) != 64:
            raise EnclaveRequestRejected("bad_response", "automation_sign answered a malformed signature")
        return signature
