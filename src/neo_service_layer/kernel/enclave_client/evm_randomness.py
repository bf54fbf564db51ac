"""The enclave client's part for EVM (Neo X) randomness: ``randomness_evm_fulfil`` over the transport.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in. Not part of the
``Enclave`` port: the code that answers EVM requests depends on :class:`EvmRandomnessEnclave` only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import KeyId, TenantId
from neo_service_layer.enclave.wire.randomness_evm import EvmRandomnessFacts, SignedEvmRandomness
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


class EvmRandomnessEnclave(Protocol):
    """What answering an EVM randomness request needs from the enclave."""

    async def randomness_evm_fulfil(
        self,
        *,
        bls_key_id: KeyId,
        evm_key_id: KeyId,
        items: Sequence[EvmRandomnessFacts],
        tenant: TenantId,
    ) -> list[SignedEvmRandomness]:
        """The enclave's answer to each request, in item order.

        Raises:
            PolicyDenied: a key of another tenant or purpose. InvalidKeyRequest: malformed facts.
        """
        ...


def _item(facts: EvmRandomnessFacts) -> dict[str, Any]:
    return {
        "chain_id": facts.chain_id,
        "contract": b64encode(facts.contract),
        "request_id": facts.request_id,
        "consumer": b64encode(facts.consumer),
        "seed": b64encode(facts.seed),
    }


class EvmRandomnessCalls:
    """Mixed into ``EnclaveClient``: uses its transport and sealed-record loader."""

    #: ``EnclaveClient._with_keys``: the call, with the keys loaded again if the enclave lost them
    _with_keys: Callable[[str, Sequence[KeyId], dict[str, Any]], Awaitable[dict[str, Any]]]

    async def randomness_evm_fulfil(
        self,
        *,
        bls_key_id: KeyId,
        evm_key_id: KeyId,
        items: Sequence[EvmRandomnessFacts],
        tenant: TenantId,
    ) -> list[SignedEvmRandomness]:
        args = {
            "tenant": tenant,
            "bls_key_id": bls_key_id,
            "evm_key_id": evm_key_id,
            "items": [_item(f) for f in items],
        }
        result = await self._with_keys("randomness_evm_fulfil", (bls_key_id, evm_key_id), args)
        try:
            return [
                SignedEvmRandomness(
                    b64decode(x["randomness"]), b64decode(x["proof"]), b64decode(x["signature"])
                )
                for x in result["results"]
            ]
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
