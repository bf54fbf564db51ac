"""Enclave readiness: the process answers ``status`` and says which platform and mode it runs."""

from __future__ import annotations

import asyncio

from neo_service_layer.kernel.enclave_client.ports import Enclave, EnclaveUnavailable
from neo_service_layer.kernel.health.rules import ComponentStatus
from neo_service_layer.kernel.observability.metrics import EnclaveMetrics


class EnclaveCheck:
    def __init__(self, enclave: Enclave, timeout: float = 2.0, metrics: EnclaveMetrics | None = None) -> None:
        self._enclave = enclave
        self._timeout = timeout
        self._metrics = metrics

    async def __call__(self) -> ComponentStatus:
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._enclave.status()
        except (EnclaveUnavailable, TimeoutError):
            return ComponentStatus("enclave", ok=False, detail="enclave process unreachable")
        if self._metrics is not None:
            self._metrics.mode(status.mode)
        return ComponentStatus(
            "enclave",
            ok=True,
            info={"platform": status.platform, "mode": status.mode, "loaded_keys": status.loaded_keys},
        )


async def not_configured() -> ComponentStatus:
    """Reported when this process was started without an enclave token (API-only development)."""
    return ComponentStatus(
        "enclave", ok=False, critical=False, detail="not configured: NSL_ENCLAVE_TOKEN is unset"
    )
