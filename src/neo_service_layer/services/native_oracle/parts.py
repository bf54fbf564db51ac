"""What the native Oracle node opens in a process: its node key and, with a network, the signature
gatherer (the API's ``submitoracleresponse`` and the worker share it through the database)."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount
from neo_service_layer.services.native_oracle.gathering import SignatureGatherer

#: the node key's name in ``network.json``
NODE_PUBLIC_KEY = "native_oracle"


@dataclass(frozen=True, slots=True)
class NativeOracleKeys:
    """The designated node key (``None`` until ``nsl chain up`` or an operator created it) and the
    gatherer of the other designated nodes' signatures (``None`` without a network or a node key)."""

    node: EnclaveAccount | None
    gatherer: SignatureGatherer | None = None

    async def published_keys(self) -> dict[str, str]:
        return {NODE_PUBLIC_KEY: self.node.public_key.hex()} if self.node is not None else {}
