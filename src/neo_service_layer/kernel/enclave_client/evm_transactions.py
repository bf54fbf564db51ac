"""The enclave client's part for the EVM (Neo X) sender: ``evm_sign_transaction`` and
``allow_evm_contracts``.

The enclave signs an EVM transaction only after building it from its structured fields and checking
them (``enclave/evm_tx_signing.py``): the host never sends bytes or a digest. Kept apart from
``client.py`` (one concept per module); ``EnclaveClient`` mixes it in. Code that sends EVM transactions
depends on :class:`EvmSenderEnclave` only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from neo_service_layer.enclave.wire.encoding import b64decode
from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction, SignedEvmTransaction
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class EvmSenderEnclave(Protocol):
    """What signing an EVM transaction with the enclave's EVM sender key needs."""

    async def evm_sign_transaction(self, key_id: KeyId, tx: Eip1559Transaction) -> SignedEvmTransaction:
        """``tx`` signed with ``key_id`` (purpose ``evm-sender``) if the enclave's rules allow it.

        Raises:
            PolicyDenied: the rules refused it (unregistered chain or contract, a function the
                services do not send, value, creation, gas or fee above the bounds) or the key is not
                an EVM sender. InvalidKeyRequest: malformed fields.
        """
        ...


class EvmTransactionCalls:
    """Mixed into ``EnclaveClient``: uses its transport and sealed-record loader."""

    #: the RPC call of the client this is mixed into (``EnclaveClient._call``)
    _call: Callable[..., Awaitable[dict[str, Any]]]

    #: ``EnclaveClient._with_keys``: the call, with the keys loaded again if the enclave lost them
    _with_keys: Callable[[str, Sequence[KeyId], dict[str, Any]], Awaitable[dict[str, Any]]]

    async def evm_sign_transaction(self, key_id: KeyId, tx: Eip1559Transaction) -> SignedEvmTransaction:
        args = {"key_id": key_id, "version": None, **tx.to_wire()}
        result = await self._with_keys("evm_sign_transaction", (key_id,), args)
        try:
            signed = SignedEvmTransaction(
                b64decode(result["raw"]), b64decode(result["hash"]), b64decode(result["sender"])
            )
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
        if len(signed.tx_hash) != 32 or len(signed.sender) != 20 or signed.raw[:1] != b"\x02":
            raise EnclaveRequestRejected(
                "bad_response", "evm_sign_transaction answered a malformed transaction"
            )
        return signed

    async def allow_evm_contracts(self, chain_id: int, contracts: Mapping[str, str]) -> dict[str, str]:
        result = await self._call(
            "allow_evm_contracts", {"chain_id": chain_id, "contracts": dict(contracts)}, idempotent=True
        )
        registered = result.get("contracts")
        if not isinstance(registered, dict):
            raise EnclaveRequestRejected("bad_response", "allow_evm_contracts answered without the contracts")
        return {str(k): str(v) for k, v in registered.items()}
