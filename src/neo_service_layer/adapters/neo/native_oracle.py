"""Serving Neo's native Oracle as a designated node: its key, reading requests, building responses.

The response transaction is built as neo-go's oracle service builds it (``CreateResponseTx`` in
``pkg/services/oracle/response.go``) and as both node implementations verify it:

- script: the fixed call ``Oracle.finish()`` (``NEWARRAY0 PUSH15 PUSHDATA "finish" PUSHDATA <hash>
  SYSCALL System.Contract.Call``, neo-go ``CreateOracleResponseScript``, C# ``OracleResponse.FixedScript``);
- attribute ``OracleResponse {Id, Code, Result}`` (a non-success code carries an empty result);
- signers: the native Oracle contract, then the oracle nodes' multisig account, both scope ``None``;
- witnesses: empty invocation and verification for the Oracle contract (its ``verify`` checks the
  attribute), the multisig witness signed by this node's enclave key (``SignatureFormat.NEO_TX``);
- nonce: the request id's low 32 bits (as neo-go), so two workers building the same answer for the same
  ``validUntilBlock`` produce the same transaction;
- fees: network fee from the node's ``calculatenetworkfee``; system fee = ``gasForResponse`` - network
  fee (the Oracle contract pays from the GAS the request deposited); when the network fee alone exceeds
  ``gasForResponse`` the answer becomes ``InsufficientFunds`` with no result, as in neo-go;
- ``validUntilBlock``: current height + ``valid_until_blocks`` (neo-go uses the request's height + the
  maximum increment; a short window lets an answer that was not included be rebuilt soon).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography, types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction, verification

from neo_service_layer.adapters.db.chain_repositories import ChainStore
from neo_service_layer.adapters.neo import privnet_deploy as deploy
from neo_service_layer.adapters.neo.chain import NeoChain, hash_text, uint160
from neo_service_layer.adapters.neo.signing import PLATFORM_TENANT, EnclaveAccount, invocation_script
from neo_service_layer.domain.keys import KeyKind, KeyPolicy, Purpose, SignatureFormat
from neo_service_layer.domain.native_oracle import (
    ORACLE_CONTRACT,
    ORACLE_ROLE,
    ROLE_MANAGEMENT,
    NativeRequest,
    NeoResponseCode,
    multisig_threshold,
    parse_request,
    request_key,
)
from neo_service_layer.ports.chain import ContractCall, SignedTransaction
from neo_service_layer.ports.clock import Clock
from neo_service_layer.ports.enclave import Enclave
from neo_service_layer.ports.native_oracle import NotAnOracleNode

#: ``chain_service_keys`` role of the node key (secp256r1, purpose ``neo-tx``: it signs transactions)
ROLE = "native-oracle"
_NONE = verification.WitnessScope(0)
#: JSON-RPC errors of ``getstorage`` for a missing item (neo-go ``ErrUnknownStorageItem``, older -100)
_NO_STORAGE = {-104, -100}


def response_script() -> bytes:
    """The fixed script of every oracle response transaction: ``Oracle.finish()``."""
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    script: bytes = builder.emit_contract_call(uint160(ORACLE_CONTRACT), "finish").to_array()
    return script


def nodes_account(nodes: Sequence[bytes]) -> tuple[bytes, types.UInt160]:
    """(verification script, script hash) of the oracle nodes' default multisig account."""
    points = [cryptography.ECPoint.deserialize_from_bytes(key) for key in nodes]
    script: bytes = contract_utils.create_multisig_redeemscript(multisig_threshold(len(points)), points)
    hash_: types.UInt160 = core_utils.to_script_hash(script)
    return script, hash_


class NeoNativeOracle:
    """Implements ``ports.native_oracle.NativeOracleChain`` over ``NeoChain``'s RPC pool and the enclave."""

    def __init__(
        self,
        chain: NeoChain,
        enclave: Callable[[], Enclave],
        account: EnclaveAccount,
        *,
        valid_until_blocks: int,
    ) -> None:
        self._chain = chain
        self._enclave = enclave
        self._account = account
        self._valid_until_blocks = valid_until_blocks
        self._script = response_script()

    @property
    def public_key(self) -> bytes:
        return self._account.public_key

    async def pending_request(self, request_id: int) -> NativeRequest | None:
        key = base64.b64encode(request_key(request_id)).decode()
        try:
            value = await self._chain.pool.call(lambda ep: ep.post("getstorage", [ORACLE_CONTRACT, key]))
        except noderpc.JsonRpcError as exc:
            if exc.code in _NO_STORAGE:
                return None
            raise
        if not value:
            return None
        return parse_request(base64.b64decode(value))

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        height = await self._chain.height()
        stack = await self._chain.read(
            ContractCall(ROLE_MANAGEMENT, "getDesignatedByRole", (ORACLE_ROLE, height + 1))
        )
        return tuple(bytes(key) for key in (stack[0] if stack else ()))

    async def build_response(
        self,
        request_id: int,
        request: NativeRequest,
        code: NeoResponseCode,
        result: bytes,
        nodes: Sequence[bytes],
    ) -> SignedTransaction:
        if self.public_key not in nodes:
            raise NotAnOracleNode("this node's key is not designated for the Oracle role")
        if multisig_threshold(len(nodes)) > 1:
            raise NotAnOracleNode(
                f"{len(nodes)} oracle nodes are designated: their account needs "
                f"{multisig_threshold(len(nodes))} signatures and this node signs alone"
            )
        multisig, multisig_hash = nodes_account(nodes)
        if code is not NeoResponseCode.SUCCESS:
            result = b""
        height = await self._chain.height()
        tx = transaction.Transaction(
            version=0,
            nonce=request_id & 0xFFFFFFFF,
            system_fee=0,
            network_fee=0,
            valid_until_block=height + 1 + self._valid_until_blocks,
            attributes=[_attribute(request_id, code, result)],
            signers=[
                verification.Signer(uint160(ORACLE_CONTRACT), _NONE),
                verification.Signer(multisig_hash, _NONE),
            ],
            script=self._script,
        )
        fee = await self._network_fee(tx, multisig)
        if fee > request.gas_for_response and code is not NeoResponseCode.INSUFFICIENT_FUNDS:
            tx.attributes = [_attribute(request_id, NeoResponseCode.INSUFFICIENT_FUNDS, b"")]
            fee = await self._network_fee(tx, multisig)
        tx.network_fee = fee
        tx.system_fee = request.gas_for_response - fee
        signature = await self._enclave().sign(
            self._account.key_id,
            tx.hash().to_array(),
            tenant=PLATFORM_TENANT,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            network_magic=self._chain.magic,
        )
        tx.witnesses = [
            verification.Witness(b"", b""),
            verification.Witness(invocation_script(signature), multisig),
        ]
        return SignedTransaction(
            tx_hash=hash_text(tx.hash()),
            raw=tx.to_array(),
            valid_until_block=tx.valid_until_block,
            system_fee=tx.system_fee,
            network_fee=tx.network_fee,
        )

    async def _network_fee(self, tx: transaction.Transaction, multisig: bytes) -> int:
        tx.witnesses = [verification.Witness(b"", b""), verification.Witness(b"", multisig)]
        fee: int = await self._chain.pool.call(lambda ep: ep.client.calculate_network_fee(tx))
        tx.witnesses = []
        return fee


def _attribute(request_id: int, code: NeoResponseCode, result: bytes) -> transaction.OracleResponse:
    return transaction.OracleResponse(request_id, transaction.OracleResponseCode(int(code)), result)


# Key and designation ------------------------------------------------------------------------------


async def ensure_native_oracle_key(store: ChainStore, enclave: Enclave, clock: Clock) -> EnclaveAccount:
    """The node key, created in the enclave (tenant ``__platform__``, purpose ``neo-tx``) if missing."""
    if await store.service_key(ROLE) is None:
        sealed = await enclave.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_TENANT, [Purpose.NEO_TX]))
        info = sealed.info
        await store.put_service_key(
            ROLE,
            info.key_id,
            KeyKind.SECP256R1.value,
            info.public_key,
            sealed.sealed_record,
            info.version,
            clock.now(),
        )  # False: another process made one first; theirs is used (re-read below)
    key = await load_native_oracle_key(store)
    assert key is not None
    return key


async def load_native_oracle_key(store: ChainStore) -> EnclaveAccount | None:
    found = await store.service_key(ROLE)
    return EnclaveAccount(found[0], found[2]) if found is not None else None


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
