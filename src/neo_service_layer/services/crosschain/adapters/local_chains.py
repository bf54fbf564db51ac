"""The cross-chain service on the local chains of ``nsl chain node`` (so of ``nsl run``): its key, its
gateways' deployment data, and the routes that wire the two gateways to each other.

The enclave's ``crosschain`` key (secp256k1) is each gateway's signer. On N3 the gateway's owner is the
development owner key (or ``NSL_NEO_CONTRACT_OWNER``), its guard the same account (locally: one cold
account for both roles) and its operator the services' sender (``markFailed`` for an aborting receiver).
On Neo X the owner and guard are anvil's first development account (published key, local only). The
routes (``setRoute`` on each side, at every start) carry the local fees: about 0.011 GAS for a message
of 1,000,000 EVM gas to Neo X (at most 1,500,000), 0.001 ETH of anvil's for one of 10 GAS to N3; the
enclave learns the gateways from the contracts the ``cli`` client registered (service
``crosschain``) for each chain's sender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from neo_service_layer.enclave.wire.crosschain import n3_chain_id
from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.chain.adapters import privnet_deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.owner_calls import owner_call, send_as_owner
from neo_service_layer.kernel.chain.adapters.provisioning import LinkContext, ProvisionContext
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey, ensure_owner, ensure_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.observability.logs import get_logger

#: the enclave key that signs messages and receipts, and its name in ``network.json``
KEY_ROLE = "crosschain"
PUBLIC_KEY = "crosschain"
GUARD = "crosschain-guard"
#: N3 -> Neo X: GAS fractions per message and per EVM gas unit; the largest EVM gas limit (with the
#: gateway's own work it stays under the enclave's default gas cap of a transaction, 2,000,000)
TO_NEOX = (100_000, 1, 1_500_000)
#: Neo X -> N3: wei per message and per GAS fraction; the largest gas limit in GAS fractions
TO_N3 = (10**12, 10**6, 10 * 10**8)

log = get_logger("nsl.crosschain")


async def ensure_crosschain_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> RoleKey:
    """The secp256k1 key of cross-chain signatures, created in the enclave once."""
    return await ensure_role_key(store, enclave, clock, KEY_ROLE, KeyKind.SECP256K1, [Purpose.CROSSCHAIN])


async def prepare(context: ProvisionContext) -> Mapping[str, str]:
    """The key, published (compressed, hex) for the N3 gateway's deployment."""
    key = await ensure_crosschain_key(context.store, context.enclave, context.clock)
    return {PUBLIC_KEY: key.public_key.hex()}


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """The N3 gateway's ``_deploy`` data: owner, guard, operator, signer."""
    return [context.owner, context.owner, context.operator, context.public_key(PUBLIC_KEY)]


async def evm_prepare(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> Mapping[str, str]:
    """The key's address (the Neo X gateway's signer) and the local guard."""
    from eth_account import Account  # web3's packages: loaded only by `nsl chain` on a Neo X chain

    from neo_service_layer.kernel.chain.adapters.evm_local import ANVIL_DEV_KEY
    from neo_service_layer.kernel.chain.adapters.evm_signers import evm_address_of

    key = await ensure_crosschain_key(store, enclave, clock)
    return {PUBLIC_KEY: evm_address_of(key.public_key), GUARD: Account.from_key(ANVIL_DEV_KEY).address}


def evm_deploy_args(signers: Mapping[str, str]) -> Sequence[Any]:
    return [signers[PUBLIC_KEY], signers[GUARD]]


_SET_ROUTE = keccak(text="setRoute(uint256,bytes,uint128,uint128,uint64)")[:4]


async def link(context: LinkContext) -> None:
    """Each gateway's route to the other (``setRoute``), with the local fees."""
    net = context.network
    neox = net.get("neox") or {}
    n3_gateway = (net.get("contracts") or {}).get(KEY_ROLE)
    evm_gateway = (neox.get("contracts") or {}).get(KEY_ROLE)
    if not n3_gateway or not evm_gateway:
        return
    from eth_account import Account  # web3's packages: loaded only when both gateways exist

    from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
    from neo_service_layer.kernel.chain.adapters.evm_local import ANVIL_DEV_KEY
    from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner

    evm_id, n3_id = int(neox["chain_id"]), n3_chain_id(int(net["magic"]))
    chain = EvmChain([str(neox["rpc_url"])], evm_id)
    try:
        route = encode(
            ["uint256", "bytes", "uint128", "uint128", "uint64"],
            [n3_id, bytes.fromhex(n3_gateway[2:])[::-1], *TO_N3],
        )
        await chain.send(LocalEvmSigner(Account.from_key(ANVIL_DEV_KEY)), evm_gateway, _SET_ROUTE + route)
    finally:
        await chain.close()
    if context.settings.neo_contract_owner:
        log.warning("the N3 gateway's owner signs elsewhere: set its route to Neo X with `nsl chain owner`")
        return
    owner = await ensure_owner(context.store, context.enclave, context.clock)
    facade = privnet_deploy.make_facade(str(net["rpc_url"]), float(net["block_time"]))
    args = [evm_id, bytes.fromhex(evm_gateway[2:]), *TO_NEOX]
    call = owner_call(uint160(n3_gateway), "setRoute", args)
    await send_as_owner(facade, lambda: context.enclave, owner, call, timeout=60.0)
    log.info("cross-chain gateways linked", n3=n3_gateway, neox=evm_gateway)
