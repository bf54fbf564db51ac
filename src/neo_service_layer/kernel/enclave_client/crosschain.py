"""The enclave client's part for cross-chain messages: ``crosschain_sign`` over the transport.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in. Not part of the
``Enclave`` port: the relaying code depends on :class:`CrossChainEnclave` only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, SourcePointer
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class CrossChainEnclave(Protocol):
    """What relaying a cross-chain message or receipt needs from the enclave."""

    async def crosschain_sign(self, *, key_id: KeyId, pointer: SourcePointer) -> SignedXMessage:
        """The message (or receipt) ``pointer`` names, as the enclave read it from its own node of the
        source chain, with its digest and signature for the destination gateway.

        Raises:
            PolicyDenied: not a key of purpose crosschain; no such transaction on the source chain, a
                reverted/FAULTed one, no matching event from the registered gateway, an unregistered
                chain. EnclaveRequestRejected with code ``chain_unavailable``: the enclave's node cannot
                be reached, or the transaction is not yet confirmed enough (retry later).
                InvalidKeyRequest: a malformed pointer. OperationNotAllowed: not the worker's token.
        """
        ...


class CrossChainCalls:
    """Mixed into ``EnclaveClient``: uses its transport and sealed-record loader."""

    #: ``EnclaveClient._with_keys``: the call, with the keys loaded again if the enclave lost them
    _with_keys: Callable[[str, Sequence[KeyId], dict[str, Any]], Awaitable[dict[str, Any]]]

    async def crosschain_sign(self, *, key_id: KeyId, pointer: SourcePointer) -> SignedXMessage:
        result = await self._with_keys("crosschain_sign", (key_id,), pointer.to_wire(key_id))
        try:
            return SignedXMessage.from_wire(result)
        except InvalidInput:
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
