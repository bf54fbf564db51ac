"""Readiness of the chain: the RPC answers (critical when configured); low sender GAS is a warning."""

from __future__ import annotations

import asyncio

from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.health.rules import ComponentStatus

GAS = 10**8


class ChainCheck:
    def __init__(
        self,
        chain: NeoChain,
        metrics: ChainMetrics,
        *,
        network: str,
        low_balance_gas: float,
        timeout: float = 3.0,
    ) -> None:
        self._chain = chain
        self._metrics = metrics
        self._network = network
        self._low = low_balance_gas
        self._timeout = timeout

    async def __call__(self) -> ComponentStatus:
        try:
            async with asyncio.timeout(self._timeout):
                height = await self._chain.height()
                balance = await self._chain.gas_balance()
        except (ChainUnavailable, TimeoutError) as exc:
            self._metrics.endpoints(self._chain.pool.health)
            return ComponentStatus("chain", ok=False, detail=f"Neo RPC unreachable: {exc}"[:300])
        self._metrics.endpoints(self._chain.pool.health)
        gas = balance / GAS
        self._metrics.sender_gas.set(gas)
        info = {"network": self._network, "height": height, "sender": self._chain.sender, "sender_gas": gas}
        if gas < self._low:
            return ComponentStatus(
                "chain",
                ok=True,
                detail=f"warning: sender {self._chain.sender} holds {gas:.4f} GAS, below {self._low} GAS",
                info={**info, "sender_gas_low": True},
            )
        return ComponentStatus("chain", ok=True, info={**info, "sender_gas_low": False})


async def not_configured() -> ComponentStatus:
    return ComponentStatus(
        "chain", ok=False, critical=False, detail="not configured: no Neo network (run `nsl chain up`)"
    )
