"""What the feeds service's routes and jobs are handed: the chain parts and the configured feeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.oracle.api import OracleKey

#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "feed"


@dataclass
class FeedParts:
    chain: ChainKernel | None
    enclave: Callable[[], Enclave]
    feeds: list[FeedDefinition] = field(default_factory=list)
    #: the oracle service's key, which signs rounds; ``None`` before ``nsl chain up``
    oracle_key: OracleKey | None = None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the feed contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)
