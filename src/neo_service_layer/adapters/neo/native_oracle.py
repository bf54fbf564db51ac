"""Serving Neo's native Oracle as a designated node: its key, reading requests, building responses.

The response transaction is built as neo-go's oracle service builds it (``CreateResponseTx`` in
``pkg/services/oracle/response.go``) and as both node implementations verify it:

- script: the fixed call ``Oracle.finish()`` (``NEWARRAY0 PUSH15 PUSHDATA "finish" PUSHDATA <hash>
  SYSCALL System.Contract.Call``, neo-go ``CreateOracleResponseScript``, C# ``OracleResponse.FixedScript``);
- attribute ``OracleResponse {Id, Code, Result}`` (a non-success code carries an empty result);
- signers: the native Oracle contract, then the oracle nodes' multisig account, both scope ``None``;
- witnesses: empty invocation and verification for the Oracle contract (its ``verify`` checks the
  attribute), the multisig witness signed by this node's enclave key (``SignatureFormat.NEO_TX``; a
  batch of responses in one enclave call);
- nonce: the request id's low 32 bits (as neo-go), so two workers building the same answer for the same
  ``validUntilBlock`` produce the same transaction;
- fees: network fee from the node's ``calculatenetworkfee`` on one transaction of a batch, the others
  priced from it by size (``_fees``); system fee = ``gasForResponse`` - network
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
from neo_service_layer.domain.key_lifecycle import MAX_BATCH_MESSAGES
from neo_service_layer.domain.keys import KeyKind, KeyPolicy, Purpose, SignatureFormat
from neo_service_layer.domain.native_oracle import (
    ORACLE_CONTRACT,
    ORACLE_ROLE,
    POLICY_CONTRACT,
    ROLE_MANAGEMENT,
    NativeAnswer,
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

    async def build_responses(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]
    ) -> list[SignedTransaction]:
        if self.public_key not in nodes:
            raise NotAnOracleNode("this node's key is not designated for the Oracle role")
        if multisig_threshold(len(nodes)) > 1:
            raise NotAnOracleNode(
                f"{len(nodes)} oracle nodes are designated: their account needs "
                f"{multisig_threshold(len(nodes))} signatures and this node signs alone"
            )
        if not answers:
            return []
        multisig, multisig_hash = nodes_account(nodes)
        valid_until = await self._chain.height() + 1 + self._valid_until_blocks
        signers = [
            verification.Signer(uint160(ORACLE_CONTRACT), _NONE),
            verification.Signer(multisig_hash, _NONE),
        ]
        txs = [
            transaction.Transaction(
                version=0,
                nonce=answer.request_id & 0xFFFFFFFF,
                system_fee=0,
                network_fee=0,
                valid_until_block=valid_until,
                attributes=[_attribute(answer.request_id, answer.code, answer.result)],
                signers=signers,
                script=self._script,
            )
            for answer in answers
        ]
        fee = await self._fees(txs[0], multisig)
        for tx, answer in zip(txs, answers, strict=True):
            network_fee = fee(tx)
            if network_fee > answer.request.gas_for_response:
                tx.attributes = [_attribute(answer.request_id, NeoResponseCode.INSUFFICIENT_FUNDS, b"")]
                network_fee = fee(tx)
            tx.network_fee = network_fee
            tx.system_fee = answer.request.gas_for_response - network_fee
        hashes = [tx.hash().to_array() for tx in txs]
        signatures: list[bytes] = []
        for start in range(0, len(hashes), MAX_BATCH_MESSAGES):
            signatures += await self._enclave().sign_batch(
                self._account.key_id,
                hashes[start : start + MAX_BATCH_MESSAGES],
                tenant=PLATFORM_TENANT,
                purpose=Purpose.NEO_TX,
                fmt=SignatureFormat.NEO_TX,
                network_magic=self._chain.magic,
            )
        signed = []
        for tx, signature in zip(txs, signatures, strict=True):
            tx.witnesses = [
                verification.Witness(b"", b""),
                verification.Witness(invocation_script(signature), multisig),
            ]
            signed.append(
                SignedTransaction(
                    tx_hash=hash_text(tx.hash()),
                    raw=tx.to_array(),
                    valid_until_block=tx.valid_until_block,
                    system_fee=tx.system_fee,
                    network_fee=tx.network_fee,
                )
            )
        return signed

    async def _fees(
        self, sample: transaction.Transaction, multisig: bytes
    ) -> Callable[[transaction.Transaction], int]:
        """The network fee of a response transaction as a function of its size.

        The node's ``calculatenetworkfee`` is verification GAS (the Oracle contract's ``verify`` and the
        multisig check: the same for every response of this batch) + size x ``FeePerByte`` (+ attribute
        fees, the same too). One RPC on a sample and one ``FeePerByte`` read price the whole batch: a
        response differs from the sample only in its ``OracleResponse`` attribute, so only in size.
        """
        sample.witnesses = [verification.Witness(b"", b""), verification.Witness(b"", multisig)]
        sample_fee: int = await self._chain.pool.call(lambda ep: ep.client.calculate_network_fee(sample))
        per_byte = int((await self._chain.read(ContractCall(POLICY_CONTRACT, "getFeePerByte", ())))[0])
        sample_size = _signed_size(sample, multisig)
        sample.witnesses = []

        def fee(tx: transaction.Transaction) -> int:
            return sample_fee + (_signed_size(tx, multisig) - sample_size) * per_byte

        return fee


def _signed_size(tx: transaction.Transaction, multisig: bytes) -> int:
    """Size of ``tx`` once signed (one 64-byte signature in the multisig witness), as the strictest node
    counts it: neo-go writes a length of exactly 0xFFFF with a 5-byte varint (``PutVarUint``: ``val <
    0xFFFF``) where C# and neo-mamba use 3 bytes, so a result of 65,535 bytes is priced 2 bytes larger."""
    witnesses = tx.witnesses
    tx.witnesses = [
        verification.Witness(b"", b""),
        verification.Witness(invocation_script(bytes(64)), multisig),
    ]
    size = len(tx.to_array())
    tx.witnesses = witnesses
    results = [a.result for a in tx.attributes if isinstance(a, transaction.OracleResponse)]
    return size + sum(2 for result in results if len(result) == 0xFFFF)


def _attribute(request_id: int, code: NeoResponseCode, result: bytes) -> transaction.OracleResponse:
    """The ``OracleResponse`` attribute; a non-success code carries an empty result, as the protocol wants."""
    carried = result if code is NeoResponseCode.SUCCESS else b""
    return transaction.OracleResponse(request_id, transaction.OracleResponseCode(int(code)), carried)


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
