"""What the randomness service's routes and jobs are handed: the chain parts, its keys, the enclave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.randomness.adapters.keys import load_randomness_keys, public_keys
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.adapters.proofs import Verdict, invalid_verdict, verify_randomness
from neo_service_layer.services.randomness.rules import RandomnessFacts
from neo_service_layer.services.randomness.use_cases import (
    RandomnessKeys,
    RandomnessRequests,
    RandomnessStore,
)
from neo_service_layer.services.randomness.use_cases.evm import EvmRandomnessKeys

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel
    from neo_service_layer.services.randomness.adapters.evm_requests import EvmRandomnessGateway

#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "randomness"


@dataclass
class RandomnessParts:
    """``chain`` is ``None`` without a configured network; the keys are read once they exist."""

    chain: ChainKernel | None
    key_store: RoleKeyStore
    enclave: Callable[[], Enclave]
    loaded_keys: RandomnessKeys | None = None
    #: the keys of EVM answers (``None`` without an EVM chain or before ``nsl chain node`` made them)
    evm_keys: EvmRandomnessKeys | None = None
    #: the EVM chain (Neo X), when one is configured
    evm: EvmKernel | None = None

    @property
    def contract(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)

    def evm_requests(self) -> tuple[RandomnessStore, EvmRandomnessGateway]:
        """The EVM requests' store and the EVM contract, or ``ChainNotConfigured`` (503)."""
        contract = self.evm.contract(CONTRACT) if self.evm is not None else None
        if self.evm is None or contract is None:
            raise ChainNotConfigured("no EVM chain with the randomness contract is configured (NSL_EVM_*)")
        from neo_service_layer.services.randomness.adapters.evm_requests import EvmRandomnessGateway

        return self.evm.requests(RandomnessPayloads()), EvmRandomnessGateway(self.evm.chain, contract)

    def requests(self) -> RandomnessRequests:
        """The state of on-chain requests (stored, else as the contract says), or ``ChainNotConfigured``."""
        chain, contract = self.on_chain()
        return RandomnessRequests(chain.requests(RandomnessPayloads()), chain.chain, contract=contract)

    async def keys(self) -> RandomnessKeys:
        """The service's keys (created by ``nsl chain up``), or ``ChainNotConfigured`` (503)."""
        if self.loaded_keys is None:
            self.loaded_keys = await load_randomness_keys(self.key_store)
        if self.loaded_keys is None:
            raise ChainNotConfigured("the randomness keys do not exist yet (run `nsl chain up`)")
        return self.loaded_keys

    async def published_keys(self) -> dict[str, str]:
        return public_keys(await self.keys())

    async def verify(
        self,
        *,
        facts: RandomnessFacts | None,
        proof: bytes,
        output: bytes,
        words: list[int] | None,
        signature: bytes | None,
    ) -> tuple[Verdict, RandomnessKeys]:
        """Check an answer against this service's published keys, off the enclave (pyblst).

        ``facts`` ``None`` (malformed: wrong seed or script hash length...) is answered "not valid".
        """
        keys = await self.keys()
        if facts is None:
            return invalid_verdict(words, signature), keys
        verdict = verify_randomness(
            facts=facts,
            proof=proof,
            output=output,
            bls_public_key=keys.bls_public_key,
            words=words,
            signature=signature,
            public_key=keys.ecdsa_public_key,
        )
        return verdict, keys
