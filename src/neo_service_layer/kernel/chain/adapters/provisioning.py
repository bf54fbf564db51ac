"""What a service sees while the local chain is provisioned (``nsl chain up`` / ``nsl chain node``).

Each on-chain service contributes a ``prepare`` hook (create its enclave keys, publish their public
keys) and the contracts it deploys (``ChainHooks`` below, in its descriptor); the kernel's
``local_chain.provision`` runs them in registry order with one context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo3.core import types

from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave


@dataclass
class ProvisionContext:
    """The local chain being provisioned, the enclave and the keys published so far.

    Attributes:
        owner: script hash of the account that administers the service contracts (cold: never the
            sender; ``NSL_NEO_CONTRACT_OWNER`` or the development ``contract-owner`` key).
        operator: script hash of the services' transaction sender (``markCallbackFailed`` only).
        public_keys: ``{name: public key hex}`` written to ``network.json``; each ``prepare`` adds its own.
    """

    settings: Settings
    rpc_url: str
    block_time: float
    store: RoleKeyStore
    enclave: Enclave
    clock: Clock
    owner: types.UInt160
    operator: types.UInt160
    public_keys: dict[str, str] = field(default_factory=dict)

    def admin_args(self) -> list[Any]:
        """The ``_deploy`` data every service contract starts with (``service_admin.init_admin``):
        ``[owner, operator, update delay in blocks]``."""
        return [self.owner, self.operator, self.settings.neo_update_delay_blocks]

    def funds_args(self) -> list[Any]:
        """What a contract taking fees adds (``service_funds.init_funds``): ``[refund timeout]``."""
        return [self.settings.neo_refund_blocks]

    def public_key(self, name: str) -> bytes:
        """A public key published by an earlier ``prepare`` hook."""
        return bytes.fromhex(self.public_keys[name])


@dataclass(frozen=True, slots=True)
class ServiceContract:
    """A contract the service deploys on the local development chain (``nsl chain up``).

    ``prepare`` makes sure the service's enclave keys exist and returns their public keys (hex) for
    ``network.json``; ``deploy_args`` gives the ``_deploy`` data from the owner's script hash and the
    context (the keys every service prepared).
    """

    name: str
    artifact: str
    deploy_args: Callable[[ProvisionContext], Sequence[Any]]


@dataclass(frozen=True, slots=True)
class EvmServiceContract:
    """A Solidity contract the service deploys on the local Neo X chain (``contracts/build/evm``).

    ``deploy_args`` gives the constructor arguments from what the services' ``evm_prepare`` hooks
    published (e.g. the address of the enclave key the contract trusts).
    """

    name: str
    artifact: str
    deploy_args: Callable[[Mapping[str, str]], Sequence[Any]]


#: create (once) a service's enclave keys for EVM chains; returns ``{name: address}`` for ``network.json``
EvmPrepare = Callable[[RoleKeyStore, Enclave, Clock], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True, slots=True)
class LinkContext:
    """Both local chains once provisioned (``nsl chain node``): what a service that spans them needs to
    wire its contracts to each other (the cross-chain gateways' routes)."""

    settings: Settings
    #: ``network.json`` as written: the N3 facts, and ``neox`` (chain id, RPC URL, contracts, owner)
    network: Mapping[str, Any]
    store: RoleKeyStore
    enclave: Enclave
    clock: Clock


@dataclass(frozen=True, slots=True)
class ChainHooks:
    """What an on-chain service adds to the local chains: its keys and its contracts."""

    #: create (once) the service's enclave keys; returns ``{name: public key hex}`` for ``network.json``
    prepare: Callable[[ProvisionContext], Awaitable[Mapping[str, str]]] | None = None
    contracts: tuple[ServiceContract, ...] = ()
    #: the same for the local Neo X chain (``evm_local.provision_evm``)
    evm_prepare: EvmPrepare | None = None
    evm_contracts: tuple[EvmServiceContract, ...] = ()
    #: after both chains are provisioned: wire the service's contracts on the two chains together
    link: Callable[[LinkContext], Awaitable[None]] | None = None
