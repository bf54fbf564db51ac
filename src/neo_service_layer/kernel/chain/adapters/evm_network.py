"""Which EVM chain (Neo X) this installation serves: from the settings, or the local one of ``nsl run``.

``NSL_EVM_RPC_URLS`` with ``NSL_EVM_CHAIN_ID`` and ``NSL_EVM_CONTRACTS`` name a real network (several
URLs: failover). Without them, the ``neox`` entry that ``nsl chain node`` writes to ``network.json``
(the local anvil, its chain id, the deployed contracts and the deployment height) is used, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils.address import is_address, to_checksum_address

from neo_service_layer.kernel.chain.adapters.network import NetworkConfigurationError, NetworkFile
from neo_service_layer.kernel.config import Settings


@dataclass(frozen=True, slots=True)
class EvmNetwork:
    name: str
    chain_id: int
    rpc_urls: tuple[str, ...]
    #: checksummed contract address by service contract name
    contracts: dict[str, str] = field(default_factory=dict)
    start_block: int | None = None
    confirmations: int = 1

    def contract(self, name: str) -> str | None:
        return self.contracts.get(name)


def _checksummed(contracts: dict[str, str]) -> dict[str, str]:
    for name, address in contracts.items():
        if not is_address(address):
            raise NetworkConfigurationError(f"the EVM contract {name!r} is not an address: {address!r}")
    return {name: to_checksum_address(address) for name, address in contracts.items()}


def resolve_evm_network(settings: Settings) -> EvmNetwork | None:
    """The configured EVM chain; ``None`` when there is none (no settings and no local Neo X)."""
    if settings.evm_rpc_urls:
        if settings.evm_chain_id is None:
            raise NetworkConfigurationError("NSL_EVM_RPC_URLS needs NSL_EVM_CHAIN_ID")
        return EvmNetwork(
            name=f"evm-{settings.evm_chain_id}",
            chain_id=settings.evm_chain_id,
            rpc_urls=tuple(settings.evm_rpc_urls),
            contracts=_checksummed(dict(settings.evm_contracts)),
            start_block=settings.evm_start_block,
            confirmations=settings.evm_confirmations,
        )
    if settings.neo_network != "local":
        return None
    file = NetworkFile.read(settings.data_dir)
    neox = file.neox if file is not None else {}
    if not neox.get("rpc_url") or not neox.get("chain_id"):
        return None
    start = settings.evm_start_block
    return EvmNetwork(
        name="local-neox",
        chain_id=int(neox["chain_id"]),
        rpc_urls=(str(neox["rpc_url"]),),
        contracts=_checksummed(dict(neox.get("contracts") or {}) | dict(settings.evm_contracts)),
        start_block=start if start is not None else int(neox.get("deployed_height") or 0),
        confirmations=settings.evm_confirmations,
    )
