"""The enclave's ``native_oracle_respond`` op: answer Neo's native Oracle requests as a designated node,
from what the enclave reads and fetches itself.

Wire arguments: ``{"key_id": str, "magic": int, "request_ids": [int, ...] (1..256, distinct),
"valid_until_blocks": int}``. Result: ``{"public_key": b64, "responses": [NativeResponse.to_wire(), ...]}``
in the order of ``request_ids`` (``wire.native_oracle``).

For each request id the enclave itself:

1. reads the request from the native Oracle contract's storage through its own node
   (``neo_rpc.NeoReader``, configured in the enclave's settings, never an argument): URL, filter,
   ``gasForResponse``, the request transaction; a request no longer stored is ``GONE``;
2. fetches the URL with its guarded ``Fetcher`` (``https`` only, as Neo's protocol: other schemes are
   ``ProtocolNotSupported``, ``neofs`` is ``Error`` as on a node without NeoFS; at most 65,535 bytes and
   2 redirects), once per distinct URL of the call, and applies Neo's filter (``neo_filter``);
3. builds the response transaction (``neo_tx``) as every node builds it: the fixed ``Oracle.finish``
   script, the ``OracleResponse`` attribute with this id, the code and the result it computed, signers
   ``[Oracle contract, designated nodes' multisig]`` (scope None) read from RoleManagement as of the next
   block, nonce = the id's low 32 bits, network fee from its node's ``calculatenetworkfee`` (priced by
   size across the call, as ``node.py`` did), system fee = ``gasForResponse`` - network fee
   (``InsufficientFunds`` with no result when the network fee alone exceeds it, as neo-go);
   ``validUntilBlock`` = its node's height + 1 + ``valid_until_blocks`` (at most the protocol's
   ``MaxValidUntilBlockIncrement``) when its signature completes the response, else the request's block
   + that increment, as neo-go builds it so every node signs the same transaction; once that block is
   reached, neo-go's backup response instead (``ConsensusUnreachable``, no result, nothing fetched);
4. signs it with the node key (purpose ``native-oracle``: the key signs nothing else, raw ``sign``
   refuses it) and, with several designated nodes, signs the ``submitoracleresponse`` message over that
   signature too; the transaction is returned with its signature in the witness either way (the host
   adds the other nodes' signatures, each verified against their designated keys, to complete it).

The host chooses only which request ids to answer now and the ``validUntilBlock`` window: it can delay
or withhold an answer, never write one. What root on the host can still do: run the node the enclave
reads (``neo_rpc``): a lying node can show a real pending request id with another URL or filter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from Crypto.Hash import RIPEMD160

from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.neo_filter import neo_filter
from neo_service_layer.enclave.neo_rpc import NeoReader
from neo_service_layer.enclave.neo_script import ContractCall, call_script, interop, push_data, syscall
from neo_service_layer.enclave.neo_tx import (
    OracleResponseAttribute,
    OracleResponseCode,
    Signer,
    Transaction,
    Witness,
    WitnessScope,
    hash_text,
    serialize,
    tx_hash,
)
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.native_oracle import (
    MAX_REDIRECTS,
    MAX_RESPONSE_BATCH,
    MAX_RESULT_BYTES,
    ORACLE_CONTRACT,
    ORACLE_ROLE,
    POLICY_CONTRACT,
    ROLE_MANAGEMENT,
    MalformedRequest,
    NativeRequest,
    NativeResponse,
    NeoResponseCode,
    NodeUnavailable,
    Outcome,
    multisig_order,
    multisig_threshold,
    neo_code,
    parse_request,
    request_key,
    submission_message,
)
from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.enclave.wire.protocol import Args

_U64 = 2**64
_NONE = WitnessScope.NONE
_CHECK_MULTISIG = interop("System.Crypto.CheckMultisig")
_EMPTY = Witness(b"", b"")
#: bytes of transactions (and their results) one answer carries: base64 and JSON stay under ``MAX_FRAME``
_ANSWER_BUDGET = 600_000


def _hash160(script: bytes) -> bytes:
    """A script's hash as ``UInt160`` bytes (little-endian, as serialized)."""
    return RIPEMD160.new(hashlib.sha256(script).digest()).digest()


def _uint160(text: str) -> bytes:
    """``UInt160`` bytes of a ``0x`` + big-endian hex script hash."""
    return bytes.fromhex(text.removeprefix("0x"))[::-1]


def response_script() -> bytes:
    """The fixed script of every oracle response: ``Oracle.finish()``."""
    return call_script([ContractCall(_uint160(ORACLE_CONTRACT), "finish", 0x0F, ())])


def _push_small(value: int) -> bytes:
    if 0 <= value <= 16:
        return bytes([0x10 + value])
    if value < 0x80:
        return bytes([0x00, value])  # PUSHINT8
    return b"\x01" + value.to_bytes(2, "little")  # PUSHINT16 (at most 1024 keys)


def nodes_account(nodes: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(verification script, ``UInt160``) of the designated nodes' default multisig account: ``m``,
    the keys in ECPoint order (x, then y), ``n``, ``CheckMultisig``."""
    ordered = multisig_order(nodes)
    script = _push_small(multisig_threshold(len(ordered)))
    script += b"".join(push_data(key) for key in ordered)
    script += _push_small(len(ordered)) + syscall(_CHECK_MULTISIG)
    return script, _hash160(script)


def _signed_size(tx: Transaction, multisig: bytes) -> int:
    """Size of ``tx`` signed (one 64-byte signature), as the strictest node counts it: neo-go writes a
    length of exactly 0xFFFF with a 5-byte var-int, where C# and neo-mamba use 3."""
    signed = dataclasses.replace(tx, witnesses=(_EMPTY, Witness(push_data(bytes(64)), multisig)))
    results = [a.result for a in tx.attributes if isinstance(a, OracleResponseAttribute)]
    return len(serialize(signed)) + sum(2 for result in results if len(result) == 0xFFFF)


def _attribute(request_id: int, code: NeoResponseCode, result: bytes) -> OracleResponseAttribute:
    carried = result if code is NeoResponseCode.SUCCESS else b""
    return OracleResponseAttribute(request_id, OracleResponseCode(int(code)), carried)


class NativeOracleRespondOp:
    """Runs ``native_oracle_respond``; the reads and fetches are awaited, other requests are served."""

    def __init__(self, keys: KeyStore, fetcher: Fetcher, reader: NeoReader) -> None:
        self._keys = keys
        self._fetcher = fetcher
        self._reader = reader
        self._script = response_script()

    async def __call__(self, args: Args) -> dict[str, Any]:
        key_id, magic, ids, window = _arguments(args)
        info = self._keys.info(key_id)  # fail before any read if the key is not loaded
        if info.kind is not KeyKind.SECP256R1:
            raise InvalidKeyRequest("the native Oracle node key must be a secp256r1 key")
        node_magic, increment = await self._reader.version()
        if magic != node_magic:
            raise InvalidKeyRequest(f"network magic {magic} is not the enclave's node's ({node_magic})")
        if not 1 <= window < increment:
            raise InvalidKeyRequest(f"valid_until_blocks must be between 1 and {increment - 1}")
        height = await self._reader.height()
        stack = await self._reader.invoke(ROLE_MANAGEMENT, "getDesignatedByRole", [ORACLE_ROLE, height + 1])
        if (
            len(stack) != 1
            or not isinstance(stack[0], list)
            or not all(isinstance(k, bytes) for k in stack[0])
        ):
            raise NodeUnavailable("the node's getDesignatedByRole answer is not a list of keys")
        nodes: list[bytes] = stack[0]
        if info.public_key not in nodes:
            raise PolicyDenied("the node key is not designated for the Oracle role")
        stored = [
            _stored(data)
            for data in await self._reader.storage_many(ORACLE_CONTRACT, [request_key(i) for i in ids])
        ]
        pending = {i: s for i, s in zip(ids, stored, strict=True) if isinstance(s, NativeRequest)}
        alone = multisig_threshold(len(nodes)) == 1
        until, expired = await self._valid_until(pending, height, window, increment, alone)
        answers = await self._answers({i: r for i, r in pending.items() if i not in expired})
        answers.update(dict.fromkeys(expired, (NeoResponseCode.CONSENSUS_UNREACHABLE, b"")))
        built = await self._priced(pending, answers, nodes, until)
        signed = self._sign(key_id, info.public_key, magic, built, nodes, alone)
        responses = []
        for request_id, found in zip(ids, stored, strict=True):
            if isinstance(found, NativeRequest):
                responses.append(signed[request_id])
            else:
                outcome = Outcome.GONE if found is None else Outcome.REFUSED
                detail = "not stored by the native Oracle contract" if found is None else found
                responses.append(NativeResponse(request_id, outcome, detail))
        return {"public_key": b64encode(info.public_key), "responses": [r.to_wire() for r in responses]}

    async def _answers(self, pending: dict[int, NativeRequest]) -> dict[int, tuple[NeoResponseCode, bytes]]:
        """(code, result) per request: one fetch per distinct URL, then each request's filter."""
        urls = sorted({r.url for r in pending.values()})
        bodies = dict(zip(urls, await asyncio.gather(*(self._fetch(u) for u in urls)), strict=True))
        answers = {}
        for request_id, request in pending.items():
            code, body = bodies[request.url]
            answers[request_id] = (
                neo_filter(body, request.filter) if code is NeoResponseCode.SUCCESS else (code, b"")
            )
        return answers

    async def _fetch(self, url: str) -> tuple[NeoResponseCode, bytes]:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "neofs":
            return NeoResponseCode.ERROR, b""  # as neo-go with no NeoFS nodes configured
        if scheme != "https":
            return NeoResponseCode.PROTOCOL_NOT_SUPPORTED, b""
        request = FetchRequest("GET", url, max_response_bytes=MAX_RESULT_BYTES, max_redirects=MAX_REDIRECTS)
        fetched = await self._fetcher.fetch(request)
        if fetched.code is not ResultCode.SUCCESS:
            return neo_code(fetched.code), b""
        return NeoResponseCode.SUCCESS, fetched.body

    async def _valid_until(
        self, pending: dict[int, NativeRequest], height: int, window: int, increment: int, alone: bool
    ) -> tuple[dict[int, int], set[int]]:
        """(``validUntilBlock`` per request, the requests whose main response expired).

        Alone: this node's short window. Several nodes: the request's block + the protocol's largest
        increment (neo-go ``processRequest``; a request transaction not known yet counts at the height).
        Once that block is reached the main response can never be included: the request gets neo-go's
        backup response instead, code ``ConsensusUnreachable`` with no result (nothing is fetched),
        valid until the first request block + k increments above the height, as neo-go builds it."""
        if alone:
            return dict.fromkeys(pending, height + 1 + window), set()
        originals = sorted({r.original_tx for r in pending.values()})
        found = await asyncio.gather(*(self._reader.transaction_height(tx) for tx in originals))
        blocks = {tx: height if h is None else h for tx, h in zip(originals, found, strict=True)}
        until = {i: blocks[r.original_tx] + increment for i, r in pending.items()}
        expired = {i for i, block in until.items() if block <= height}
        for i in expired:
            until[i] += increment * ((height - until[i]) // increment + 1)
        return until, expired

    async def _priced(
        self,
        pending: dict[int, NativeRequest],
        answers: dict[int, tuple[NeoResponseCode, bytes]],
        nodes: Sequence[bytes],
        until: dict[int, int],
    ) -> dict[int, Transaction | str]:
        """The unsigned response of each request with its fees, or why it cannot be paid."""
        if not pending:
            return {}
        multisig, account = nodes_account(nodes)
        signers = (Signer(_uint160(ORACLE_CONTRACT), _NONE), Signer(account, _NONE))
        txs = {
            i: Transaction(
                nonce=i & 0xFFFFFFFF,
                system_fee=0,
                network_fee=0,
                valid_until_block=until[i],
                signers=signers,
                script=self._script,
                attributes=(_attribute(i, *answers[i]),),
            )
            for i in pending
        }
        fee = await self._fees(next(iter(txs.values())), multisig)
        priced: dict[int, Transaction | str] = {}
        for request_id, tx in txs.items():
            gas = pending[request_id].gas_for_response
            network_fee = fee(tx)
            if network_fee > gas:
                tx = dataclasses.replace(
                    tx, attributes=(_attribute(request_id, NeoResponseCode.INSUFFICIENT_FUNDS, b""),)
                )
                network_fee = fee(tx)
            if network_fee > gas:
                priced[request_id] = f"gasForResponse {gas} does not cover the network fee {network_fee}"
                continue
            priced[request_id] = dataclasses.replace(
                tx, network_fee=network_fee, system_fee=gas - network_fee
            )
        return priced

    async def _fees(self, sample: Transaction, multisig: bytes) -> Callable[[Transaction], int]:
        """The network fee as a function of size: the node's ``calculatenetworkfee`` of one response
        (verification of the Oracle contract and of the multisig, the same for every response) plus the
        size difference times ``FeePerByte``."""
        unsigned = dataclasses.replace(sample, witnesses=(_EMPTY, Witness(b"", multisig)))
        sample_fee = await self._reader.network_fee(serialize(unsigned))
        (per_byte,) = await self._reader.invoke(POLICY_CONTRACT, "getFeePerByte", [])
        base = _signed_size(sample, multisig)

        def fee(tx: Transaction) -> int:
            return int(sample_fee) + (_signed_size(tx, multisig) - base) * int(per_byte)

        return fee

    def _sign(
        self,
        key_id: str,
        public_key: bytes,
        magic: int,
        built: dict[int, Transaction | str],
        nodes: Sequence[bytes],
        alone: bool,
    ) -> dict[int, NativeResponse]:
        """Sign every built response (one call per kind of message); describe the others."""
        out = {i: NativeResponse(i, Outcome.REFUSED, why) for i, why in built.items() if isinstance(why, str)}
        txs: dict[int, Transaction] = {}
        budget = _ANSWER_BUDGET  # the answer travels in one frame: the rest is asked for again
        for request_id, tx in built.items():
            if isinstance(tx, Transaction):
                budget -= 2 * len(serialize(tx)) + (0 if alone else 256)
                if budget < 0:
                    out[request_id] = NativeResponse(request_id, Outcome.LATER, "the answer is full")
                else:
                    txs[request_id] = tx
        if not txs:
            return out
        signatures = self._keys.sign_for_operation(
            key_id,
            [tx_hash(tx) for tx in txs.values()],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.NATIVE_ORACLE,
            fmt=SignatureFormat.NEO_TX,
            network_magic=magic,
        )
        by_id = dict(zip(txs, signatures, strict=True))
        submissions: dict[int, bytes] = {}
        if not alone:
            messages = [submission_message(public_key, i, by_id[i]) for i in txs]
            submitted = self._keys.sign_for_operation(
                key_id,
                messages,
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.NATIVE_ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
            submissions = dict(zip(txs, submitted, strict=True))
        multisig, _ = nodes_account(nodes)
        for request_id, tx in txs.items():
            (attribute,) = tx.attributes
            assert isinstance(attribute, OracleResponseAttribute)
            signed = dataclasses.replace(
                tx, witnesses=(_EMPTY, Witness(push_data(by_id[request_id]), multisig))
            )
            out[request_id] = NativeResponse(
                request_id,
                Outcome.SIGNED if alone else Outcome.SUBMISSION,
                code=NeoResponseCode(int(attribute.code)),
                result=attribute.result,
                raw=serialize(signed),
                tx_hash=hash_text(tx_hash(tx)),
                valid_until_block=tx.valid_until_block,
                system_fee=tx.system_fee,
                network_fee=tx.network_fee,
                tx_signature=by_id[request_id],
                submission_signature=submissions.get(request_id, b""),
            )
        return out


def _stored(data: bytes | None) -> NativeRequest | str | None:
    """The stored request, ``None`` if there is none, or why it cannot be answered."""
    if data is None:
        return None
    try:
        return parse_request(data)
    except MalformedRequest as exc:
        return f"the stored request is malformed: {exc}"


def _arguments(args: Args) -> tuple[str, int, list[int], int]:
    key_id, magic, window = args.text("key_id"), args.integer("magic"), args.integer("valid_until_blocks")
    ids = args.opt_list("request_ids")
    if not 1 <= len(ids) <= MAX_RESPONSE_BATCH:
        raise InvalidKeyRequest(f"request_ids needs between 1 and {MAX_RESPONSE_BATCH} ids")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < _U64 for i in ids):
        raise InvalidKeyRequest("request ids are integers between 0 and 2^64-1")
    if len(set(ids)) != len(ids):
        raise InvalidKeyRequest("request ids must be distinct")
    if not 0 <= magic <= 0xFFFFFFFF:
        raise InvalidKeyRequest("magic must be between 0 and 2^32-1")
    return key_id, magic, ids, window
