"""What the oracle service's routes and jobs are handed: chain parts, its key, templates, the answerer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neo_service_layer.enclave.wire.keys import KeyKind, SignatureFormat
from neo_service_layer.enclave.wire.oracle import OracleFacts, response_message
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey
from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.keys.api import PublicKeyOperations
from neo_service_layer.services.oracle.adapters.oracle_key import ORACLE_PUBLIC_KEY, load_oracle_key
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.adapters.templates_store import OracleTemplates
from neo_service_layer.services.oracle.use_cases.fulfilment import (
    OracleAnswerer,
    OracleKey,
    SealedSecretReader,
)
from neo_service_layer.services.oracle.use_cases.requests import OracleRequests
from neo_service_layer.services.oracle.use_cases.templates import OracleTemplateService

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel

#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "oracle"


@dataclass
class OracleParts:
    """``chain`` is ``None`` without a configured network; the key is read once it exists."""

    chain: ChainKernel | None
    key_store: RoleKeyStore
    enclave: Callable[[], Enclave]
    clock: Clock
    store: OracleTemplates
    templates: OracleTemplateService
    #: the sealed values of a tenant's secrets for the consumer "oracle" (the secrets service)
    secrets: SealedSecretReader
    loaded_key: OracleKey | None = None
    #: the EVM chain (Neo X) and the EVM oracle key, when configured and created
    evm: EvmKernel | None = None
    evm_key: RoleKey | None = None

    @property
    def contract(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)

    def requests(self) -> OracleRequests:
        """The state of on-chain requests (stored, else as the contract says), or ``ChainNotConfigured``."""
        chain, contract = self.on_chain()
        return OracleRequests(chain.requests(OraclePayloads()), chain.chain, contract=contract)

    async def key(self) -> OracleKey:
        """The oracle key (created by ``nsl chain up``), or ``ChainNotConfigured`` (503)."""
        if self.loaded_key is None:
            self.loaded_key = await load_oracle_key(self.key_store)
        if self.loaded_key is None:
            raise ChainNotConfigured("the oracle key does not exist yet (run `nsl chain up`)")
        return self.loaded_key

    async def answerer(self) -> OracleAnswerer:
        """Signs answers with the oracle key, resolving templates and sealed secrets."""
        return OracleAnswerer(self.enclave, await self.key(), self.store, self.secrets, self.clock)

    async def published_keys(self) -> dict[str, str]:
        return {ORACLE_PUBLIC_KEY: (await self.key()).public_key.hex()}

    async def verify(
        self, *, facts: OracleFacts, code: int, timestamp_ms: int, result: bytes, signature: bytes
    ) -> tuple[bool, OracleKey]:
        """Whether ``signature`` is the oracle key's over this answer's signed (V2) message."""
        key = await self.key()
        message = response_message(facts, code, timestamp_ms, result)
        valid = PublicKeyOperations().verify(
            KeyKind.SECP256R1, SignatureFormat.ECDSA_SHA256, key.public_key, message, signature
        )
        return valid, key
