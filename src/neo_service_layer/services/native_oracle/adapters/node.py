"""Serving Neo's native Oracle as a designated node: the node key, the designation, asking the enclave
for responses and handing signatures to the other designated nodes.

The response itself is built and signed in the enclave (``native_oracle_respond``,
``enclave/native_oracle.py``): the enclave reads the request from its own node, fetches and filters the
URL, builds the ``OracleResponse`` transaction as every node builds it and signs it with the node key
(purpose ``native-oracle``: the key signs nothing else). This adapter only asks for the request ids the
worker claimed, with its ``validUntilBlock`` window (``NSL_NEO_VALID_UNTIL_BLOCKS``), in calls of at most
``MAX_RESPONSE_BATCH`` ids, and:

- when this node's signature completes the response: the signed transaction goes to the outbox and is
  sent (``use_cases``);
- several designated nodes: the enclave's two signatures (the transaction's, and the
  ``submitoracleresponse`` message's) go to the other nodes (``submit``); whichever node gathers
  enough signatures sends the transaction.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.core import cryptography

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.enclave.wire.native_oracle import (
    MAX_RESPONSE_BATCH,
    NativeResponse,
    NodeUnavailable,
)
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain, NeoRpcEndpoint, uint160
from neo_service_layer.kernel.chain.adapters.rpc import TRANSPORT_ERRORS
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable, ContractCall
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    ORACLE_ROLE,
    ROLE_MANAGEMENT,
    multisig_threshold,
)

#: ``chain_service_keys`` role of the node key: secp256r1, purpose ``native-oracle`` only (signs only
#: what ``native_oracle_respond`` builds). A key of the earlier role ``native-oracle`` (purposes ``neo-tx``,
#: ``oracle``, raw-signable) is no longer used: ``nsl chain up`` designates the new key; on a real network
#: the committee must designate it (``GET /api/v1/neo/network`` shows it)
ROLE = "native-oracle-node"


class NeoNativeOracle:
    """Implements ``ports.NativeOracleChain`` over ``NeoChain`` and the enclave."""

    def __init__(
        self,
        chain: NeoChain,
        enclave: Callable[[], Enclave],
        account: EnclaveAccount,
        *,
        valid_until_blocks: int,
        peers: Sequence[str] = (),
    ) -> None:
        self._chain = chain
        self._enclave = enclave
        self._account = account
        self._valid_until_blocks = valid_until_blocks
        self._peers = tuple(peers)

    @property
    def public_key(self) -> bytes:
        return self._account.public_key

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        return await oracle_nodes(self._chain)

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return multisig_threshold(len(nodes)) == 1

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        chunks = [
            request_ids[i : i + MAX_RESPONSE_BATCH] for i in range(0, len(request_ids), MAX_RESPONSE_BATCH)
        ]
        answered = await asyncio.gather(*(self._respond(chunk) for chunk in chunks))  # calls run concurrently
        return [response for chunk in answered for response in chunk]

    async def _respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        try:
            return await self._enclave().native_oracle_respond(
                self._account.key_id,
                magic=self._chain.magic,
                request_ids=request_ids,
                valid_until_blocks=self._valid_until_blocks,
            )
        except EnclaveRequestRejected as exc:
            if exc.code == NodeUnavailable.code:
                raise ChainUnavailable(f"the enclave's Neo node: {exc}") from None
            raise

    async def submit(self, responses: Sequence[NativeResponse], nodes: Sequence[bytes]) -> int:
        if self.public_key not in nodes:
            raise NotAnOracleNode("this node's key is not designated for the Oracle role")
        if not self._peers:
            raise NotAnOracleNode(
                f"{len(nodes)} oracle nodes are designated ({multisig_threshold(len(nodes))} signatures "
                "needed) and no other oracle node's RPC is configured (NSL_NEO_ORACLE_PEERS)"
            )
        if not responses:
            return len(self._peers)
        public_key = base64.b64encode(self.public_key).decode()
        submissions = [
            [
                public_key,
                r.request_id,
                base64.b64encode(r.tx_signature).decode(),
                base64.b64encode(r.submission_signature).decode(),
            ]
            for r in responses
        ]
        outcomes = await asyncio.gather(*(self._submit(url, submissions) for url in self._peers))
        accepted = sum(1 for outcome in outcomes if outcome is None)
        if not accepted:
            raise ChainUnavailable(f"no oracle peer took the signatures: {'; '.join(map(str, outcomes))}")
        return accepted

    async def _submit(self, url: str, submissions: Sequence[list[object]]) -> str | None:
        """Send every submission to one peer; ``None`` when it took them all, else why not."""
        endpoint = NeoRpcEndpoint(url)
        try:
            for params in submissions:
                await endpoint.post("submitoracleresponse", list(params))
        except noderpc.JsonRpcError as exc:
            return f"{url}: {exc}"
        except TRANSPORT_ERRORS as exc:
            return f"{url}: {type(exc).__name__}"
        finally:
            await endpoint.close()
        return None


async def oracle_nodes(chain: NeoChain) -> tuple[bytes, ...]:
    """Public keys designated for the Oracle role as of the next block."""
    height = await chain.height()
    stack = await chain.read(ContractCall(ROLE_MANAGEMENT, "getDesignatedByRole", (ORACLE_ROLE, height + 1)))
    return tuple(bytes(key) for key in (stack[0] if stack else ()))


# Key and designation ------------------------------------------------------------------------------


async def ensure_native_oracle_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> EnclaveAccount:
    """The node key, created in the enclave if missing.

    Purpose ``native-oracle`` only: it signs the response transactions and the messages that hand a
    signature to another node, both built by the enclave's ``native_oracle_respond``, and nothing else.
    """
    key = await ensure_role_key(store, enclave, clock, ROLE, KeyKind.SECP256R1, [Purpose.NATIVE_ORACLE])
    return EnclaveAccount(key.key_id, key.public_key)


async def load_native_oracle_key(store: RoleKeyStore) -> EnclaveAccount | None:
    key = await load_role_key(store, ROLE)
    return EnclaveAccount(key.key_id, key.public_key) if key is not None else None


async def designated_oracles(rpc_url: str) -> tuple[bytes, ...]:
    """Keys designated for the Oracle role as of the next block."""
    async with noderpc.NeoRpcClient(rpc_url, timeout=10.0) as client:
        height = await client.get_block_count() - 1
        builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
        builder.emit_contract_call_with_args(
            uint160(ROLE_MANAGEMENT), "getDesignatedByRole", [ORACLE_ROLE, height + 1]
        )
        result = await client.invoke_script(builder.to_array())
    if result.state != "HALT" or not result.stack:
        raise RuntimeError(f"getDesignatedByRole faulted: {result.exception}")
    items: Any = result.stack[0].value
    return tuple(bytes(item.value) for item in items)


async def designate_oracles(committee: deploy.AccountInvoker, keys: Sequence[bytes]) -> None:
    """``RoleManagement.designateAsRole(Oracle, keys)`` signed by the committee (local chains)."""
    from neo3.api.wrappers import GenericContract

    call = GenericContract(uint160(ROLE_MANAGEMENT)).call_function(
        "designateAsRole", [ORACLE_ROLE, [cryptography.ECPoint.deserialize_from_bytes(k) for k in keys]]
    )
    await committee.invoke(call)
