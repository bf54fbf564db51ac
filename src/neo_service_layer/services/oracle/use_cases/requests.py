"""The state of on-chain oracle requests, for the API: as stored (with the URL, filter and answer), else
as the oracle contract says."""

from __future__ import annotations

from neo_service_layer.enclave.wire.oracle import OracleContractState
from neo_service_layer.kernel.chain.ports.chain import Chain
from neo_service_layer.kernel.chain.ports.request_store import RequestReader
from neo_service_layer.kernel.chain.use_cases.request_lookup import RequestLookup, look_up_request
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult
from neo_service_layer.services.oracle.use_cases.fulfilment import SERVICE


class OracleRequests:
    def __init__(
        self, store: RequestReader[OracleParams, OracleResult], chain: Chain, *, contract: str
    ) -> None:
        self._store = store
        self._chain = chain
        self.contract = contract

    async def state(self, request_id: int) -> RequestLookup[OracleParams, OracleResult]:
        """``NotFound`` when neither this installation nor the contract knows the request."""
        return await look_up_request(
            self._store,
            self._chain,
            OracleContractState,
            service=SERVICE,
            contract=self.contract,
            request_id=request_id,
        )
