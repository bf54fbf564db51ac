"""Which Neo network this installation talks to: from the settings, or from the local chain's network file.

``<data_dir>/network.json`` is written by ``nsl chain up`` / ``nsl chain node`` (the embedded privnet):
RPC URL, network magic, contract hashes, the service's public keys and sender address. Real networks
(``NSL_NEO_NETWORK=mainnet|testnet|private``) take the same facts from ``NSL_NEO_*`` settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.config import Settings

#: network magics of the public networks (``getversion`` of their nodes)
KNOWN_MAGICS = {"mainnet": 860833102, "testnet": 894710606}


@dataclass
class NetworkFile:
    """The local chain as deployed; also what ``nsl chain up`` prints."""

    rpc_url: str
    magic: int
    block_time: float
    contracts: dict[str, str]
    service_keys: dict[str, str]
    sender: dict[str, str]
    deployed_height: int
    network: str = "local"
    ws_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: the local Neo X chain (``evm_local.provision_evm``): ``chain_id``, ``rpc_url``, ``contracts``
    #: (name -> address), ``signers`` (name -> address of the enclave key a contract trusts), ``owner``
    neox: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def path(cls, data_dir: Path) -> Path:
        return data_dir / "network.json"

    @classmethod
    def read(cls, data_dir: Path) -> NetworkFile | None:
        path = cls.path(data_dir)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None

    def write(self, data_dir: Path) -> Path:
        path = self.path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(temporary, path)
        return path


@dataclass(frozen=True, slots=True)
class NeoNetwork:
    name: str
    rpc_urls: tuple[str, ...]
    magic: int | None
    start_block: int | None
    block_time: float
    #: contract hash by service contract name (``randomness``, ``oracle``, ``feed``, ...)
    contracts: dict[str, str] = field(default_factory=dict)
    service_keys: dict[str, str] = field(default_factory=dict)

    def contract(self, name: str) -> str | None:
        """The hash of the service contract ``name`` on this network, if it is deployed or configured."""
        return self.contracts.get(name)


class NetworkConfigurationError(Exception):
    """The Neo settings are inconsistent (e.g. a real network without RPC URLs)."""


def configured_contracts(settings: Settings) -> dict[str, str]:
    """Contract hashes set in the settings (``NSL_NEO_CONTRACTS`` and the older per-service variables)."""
    named = {
        "randomness": settings.neo_randomness_contract,
        "oracle": settings.neo_oracle_contract,
        "feed": settings.neo_feed_contract,
    }
    return dict(settings.neo_contracts) | {name: value for name, value in named.items() if value}


def resolve_network(settings: Settings) -> NeoNetwork | None:
    """The configured network, or ``None`` when none is (local chain not deployed yet)."""
    if settings.neo_network == "local":
        file = NetworkFile.read(settings.data_dir)
        if file is None:
            return None
        urls = tuple(settings.neo_rpc_urls) or (file.rpc_url,)
        return NeoNetwork(
            name="local",
            rpc_urls=urls,
            magic=file.magic,
            contracts=file.contracts | configured_contracts(settings),
            start_block=settings.neo_start_block
            if settings.neo_start_block is not None
            else file.deployed_height,
            block_time=file.block_time,
            service_keys=dict(file.service_keys),
        )
    if not settings.neo_rpc_urls:
        raise NetworkConfigurationError(f"NSL_NEO_NETWORK={settings.neo_network} needs NSL_NEO_RPC_URLS")
    magic = settings.neo_network_magic or KNOWN_MAGICS.get(settings.neo_network)
    if magic is None:
        raise NetworkConfigurationError("NSL_NEO_NETWORK=private needs NSL_NEO_NETWORK_MAGIC")
    return NeoNetwork(
        name=settings.neo_network,
        rpc_urls=tuple(settings.neo_rpc_urls),
        magic=magic,
        contracts=configured_contracts(settings),
        start_block=settings.neo_start_block,
        block_time=settings.neo_block_time_seconds,
    )
