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
- ``validUntilBlock``: alone, current height + ``valid_until_blocks`` (a short window lets an answer that
  was not included be rebuilt soon); with other designated nodes, the request's block + the protocol's
  ``MaxValidUntilBlockIncrement``, as neo-go builds it, so every node signs the same transaction;
- several designated nodes: this node's signatures go to the other nodes with ``submitoracleresponse``
  (``submit_responses``); whichever node gathers enough sends the transaction.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography, types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction, verification

from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    PLATFORM_KEY_OWNER,
    KeyKind,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain, NeoRpcEndpoint, hash_text, uint160
from neo_service_layer.kernel.chain.adapters.rpc import TRANSPORT_ERRORS
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, invocation_script
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable, ContractCall, SignedTransaction
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
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

#: ``chain_service_keys`` role of the node key (secp256r1, purpose ``neo-tx``: it signs transactions)
ROLE = "native-oracle"
_NONE = verification.WitnessScope(0)
#: JSON-RPC errors of ``getstorage`` for a missing item (neo-go ``ErrUnknownStorageItem``, older -100)
_NO_STORAGE = {-104, -100}


def submission_message(public_key: bytes, request_id: int, tx_signature: bytes) -> bytes:
    """What an oracle node signs when it hands its response signature to another node
    (``submitoracleresponse``): public key || request id (u64 LE) || transaction signature."""
    return public_key + request_id.to_bytes(8, "little") + tx_signature


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
        peers: Sequence[str] = (),
    ) -> None:
        self._chain = chain
        self._enclave = enclave
        self._account = account
        self._valid_until_blocks = valid_until_blocks
        self._peers = tuple(peers)
        self._increment: int | None = None
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

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return multisig_threshold(len(nodes)) == 1

    async def build_responses(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]
    ) -> list[SignedTransaction]:
        self._designated(nodes)
        if not self.signs_alone(nodes):
            raise NotAnOracleNode(
                f"{len(nodes)} oracle nodes are designated: their account needs "
                f"{multisig_threshold(len(nodes))} signatures and this node signs alone"
            )
        if not answers:
            return []
        multisig, _ = nodes_account(nodes)
        valid_until = await self._chain.height() + 1 + self._valid_until_blocks
        txs = await self._priced(answers, nodes, [valid_until] * len(answers))
        signatures = await self._sign(
            [tx.hash().to_array() for tx in txs], Purpose.NEO_TX, SignatureFormat.NEO_TX
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

    async def submit_responses(self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]) -> int:
        self._designated(nodes)
        if not self._peers:
            raise NotAnOracleNode(
                f"{len(nodes)} oracle nodes are designated ({multisig_threshold(len(nodes))} signatures "
                "needed) and no other oracle node's RPC is configured (NSL_NEO_ORACLE_PEERS)"
            )
        if not answers:
            return len(self._peers)
        # the transaction every designated node builds for this request (neo-go processRequest):
        # valid until the request's block + the protocol's largest increment
        increment = await self._valid_until_increment()
        current = await self._chain.height()
        originals = sorted({a.request.original_tx for a in answers})
        found = await asyncio.gather(*(self._transaction_height(tx) for tx in originals))
        # a request transaction the node does not know yet counts at the current height, as in neo-go
        heights = {tx: current if h is None else h for tx, h in zip(originals, found, strict=True)}
        valid_until = [heights[a.request.original_tx] + increment for a in answers]
        txs = await self._priced(answers, nodes, valid_until)
        tx_signatures = await self._sign(
            [tx.hash().to_array() for tx in txs], Purpose.NEO_TX, SignatureFormat.NEO_TX
        )
        messages = [
            submission_message(self.public_key, a.request_id, signature)
            for a, signature in zip(answers, tx_signatures, strict=True)
        ]
        message_signatures = await self._sign(messages, Purpose.ORACLE, SignatureFormat.ECDSA_SHA256)
        public_key = base64.b64encode(self.public_key).decode()
        submissions = [
            [public_key, a.request_id, base64.b64encode(tx_sig).decode(), base64.b64encode(msg_sig).decode()]
            for a, tx_sig, msg_sig in zip(answers, tx_signatures, message_signatures, strict=True)
        ]
        outcomes = await asyncio.gather(*(self._submit(url, submissions) for url in self._peers))
        accepted = sum(1 for outcome in outcomes if outcome is None)
        if not accepted:
            raise ChainUnavailable(f"no oracle peer took the signatures: {'; '.join(map(str, outcomes))}")
        return accepted

    def _designated(self, nodes: Sequence[bytes]) -> None:
        if self.public_key not in nodes:
            raise NotAnOracleNode("this node's key is not designated for the Oracle role")

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

    async def _valid_until_increment(self) -> int:
        """The protocol's ``MaxValidUntilBlockIncrement`` (``getversion``), read once."""
        if self._increment is None:
            version = await self._chain.pool.call(lambda ep: ep.post("getversion", []))
            self._increment = int(version["protocol"]["maxvaliduntilblockincrement"])
        return self._increment

    async def _transaction_height(self, tx_hash: str) -> int | None:
        """The block of a transaction, ``None`` while the node does not know it."""
        try:
            return int(await self._chain.pool.call(lambda ep: ep.post("gettransactionheight", [tx_hash])))
        except noderpc.JsonRpcError:
            return None

    async def _priced(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes], valid_until: Sequence[int]
    ) -> list[transaction.Transaction]:
        """Unsigned response transactions with their fees (``InsufficientFunds`` where the network fee
        alone exceeds ``gasForResponse``, as neo-go's ``CreateResponseTx``)."""
        multisig, multisig_hash = nodes_account(nodes)
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
                valid_until_block=until,
                attributes=[_attribute(answer.request_id, answer.code, answer.result)],
                signers=signers,
                script=self._script,
            )
            for answer, until in zip(answers, valid_until, strict=True)
        ]
        fee = await self._fees(txs[0], multisig)
        for tx, answer in zip(txs, answers, strict=True):
            network_fee = fee(tx)
            if network_fee > answer.request.gas_for_response:
                tx.attributes = [_attribute(answer.request_id, NeoResponseCode.INSUFFICIENT_FUNDS, b"")]
                network_fee = fee(tx)
            tx.network_fee = network_fee
            tx.system_fee = answer.request.gas_for_response - network_fee
        return txs

    async def _sign(self, messages: Sequence[bytes], purpose: Purpose, fmt: SignatureFormat) -> list[bytes]:
        """Signatures of the node key, in enclave calls of at most ``MAX_SIGN_BATCH``."""
        signatures: list[bytes] = []
        for start in range(0, len(messages), MAX_SIGN_BATCH):
            signatures += await self._enclave().sign_batch(
                self._account.key_id,
                messages[start : start + MAX_SIGN_BATCH],
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=fmt,
                network_magic=self._chain.magic if fmt is SignatureFormat.NEO_TX else None,
            )
        return signatures

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


async def ensure_native_oracle_key(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> EnclaveAccount:
    """The node key, created in the enclave if missing.

    Purposes: ``neo-tx`` (response transactions) and ``oracle`` (the message that hands a signature to
    another node).
    """
    key = await ensure_role_key(
        store, enclave, clock, ROLE, KeyKind.SECP256R1, [Purpose.NEO_TX, Purpose.ORACLE]
    )
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
