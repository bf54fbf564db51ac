"""The state of on-chain compute requests, for the API: as stored (with the function id, args and the
answer), else as the compute contract says."""

from __future__ import annotations

from neo_service_layer.kernel.chain.ports.chain import Chain
from neo_service_layer.kernel.chain.ports.request_store import RequestReader
from neo_service_layer.kernel.chain.use_cases.request_lookup import RequestLookup, look_up_request
from neo_service_layer.services.compute.rules import ComputeContractState, ComputeParams, ComputeResult
from neo_service_layer.services.compute.use_cases.fulfilment import SERVICE


class ComputeRequests:
    def __init__(
        self, store: RequestReader[ComputeParams, ComputeResult], chain: Chain, *, contract: str
    ) -> None:
        self._store = store
        self._chain = chain
        self.contract = contract

    async def state(self, request_id: int) -> RequestLookup[ComputeParams, ComputeResult]:
        """``NotFound`` when neither this installation nor the contract knows the request."""
        return await look_up_request(
            self._store,
            self._chain,
            ComputeContractState,
            service=SERVICE,
            contract=self.contract,
            request_id=request_id,
        )
