"""The enclave client's part for the transaction sender: ``sign_transaction`` and ``allow_contracts``.

The enclave signs a service transaction only after reading it (``enclave/tx_signing.py``): the host
sends the whole unsigned transaction and the height it sees, never a hash. Kept apart from
``client.py`` (one concept per module); ``EnclaveClient`` mixes it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import KeyId, KeyNotLoaded
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class TransactionCalls:
    """Mixed into ``EnclaveClient``: the calls go through its ``_call``; a key not loaded is loaded once."""

    _loader: SealedRecordLoader | None

    #: the RPC call of the client this is mixed into (``EnclaveClient._call``)
    _call: Callable[..., Awaitable[dict[str, Any]]]

    async def sign_transaction(
        self,
        key_id: KeyId,
        transaction: bytes,
        *,
        network_magic: int,
        height: int,
        version: int | None = None,
    ) -> bytes:
        args = {
            "key_id": key_id,
            "version": version,
            "network_magic": network_magic,
            "transaction": b64encode(transaction),
            "height": height,
        }
        try:
            result = await self._call("sign_transaction", args, idempotent=True)
        except KeyNotLoaded:
            if self._loader is None:
                raise
            record = await self._loader(key_id, version)
            await self._call(
                "load_key", {"key_id": key_id, "sealed_record": b64encode(record)}, idempotent=True
            )
            result = await self._call("sign_transaction", args, idempotent=True)
        try:
            signature = b64decode(result["signature"])
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected(
                "bad_response", "sign_transaction answered without a signature"
            ) from None
        if len(signature) != 64:
            raise EnclaveRequestRejected("bad_response", "sign_transaction answered a malformed signature")
        return signature

    async def allow_contracts(self, network_magic: int, contracts: Mapping[str, str]) -> dict[str, str]:
        result = await self._call(
            "allow_contracts",
            {"network_magic": network_magic, "contracts": dict(contracts)},
            idempotent=True,
        )
        registered = result.get("contracts")
        if not isinstance(registered, dict):
            raise EnclaveRequestRejected("bad_response", "allow_contracts answered without the contracts")
        return {str(k): str(v) for k, v in registered.items()}
