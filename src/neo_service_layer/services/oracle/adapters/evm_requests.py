"""Web data for Solidity consumers on an EVM chain (Neo X): read requests, answer them through the enclave.

The EVM contract is ``contracts/evm/OracleService.sol``; the fragments of its ABI this module uses are
written below (a test checks them against the compiled ABI). Answering a request:

1. ``OracleRequested(requestId, consumer, url, filter)`` logs of the contract, read with ``eth_getLogs``;
2. the enclave's ``oracle_evm_fetch`` with those chain facts (chain id, contract, request id, consumer,
   URL, filter) and the fetch: it fetches behind its guard, filters and signs the digest the contract
   rebuilds. A URL that cannot be fetched as it is (malformed, not allowed by the fetch rules) gets a
   refusal the enclave signs (``FORBIDDEN``, empty result), so no request stays pending;
3. ``fulfill(requestId, code, result, timestamp, signature)`` sent by the sender's ``EvmSigner`` (dry run
   first: a request already fulfilled, or an answer the contract refuses, is never sent).

``nsl://template/<id>`` URLs are answered here only if the caller resolves them (``spec_for``); without
it they are refused. The worker's job answers through the kernel's pipeline (``use_cases/evm.py``);
``answer_requests`` answers given requests directly (tests and tools).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.oracle import FetchSpec, ResultCode, SealedSecret, is_template_url
from neo_service_layer.enclave.wire.oracle_evm import EvmOracleFacts, SignedEvmOracleAnswer
from neo_service_layer.enclave.wire.randomness_evm import address_bytes
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, EvmReceipt
from neo_service_layer.kernel.chain.adapters.evm_errors import CustomErrors
from neo_service_layer.kernel.chain.ports.evm_signer import EvmSigner
from neo_service_layer.kernel.enclave_client.evm_oracle import EvmOracleEnclave

_UINT = {"type": "uint256"}
#: the parts of OracleService's ABI used here
ABI: list[dict[str, Any]] = [
    {
        "type": "event",
        "name": "OracleRequested",
        "anonymous": False,
        "inputs": [
            {"name": "requestId", "indexed": True, **_UINT},
            {"name": "consumer", "indexed": True, "type": "address"},
            {"name": "url", "indexed": False, "type": "string"},
            {"name": "filter", "indexed": False, "type": "string"},
        ],
    },
    {
        "type": "event",
        "name": "OracleFulfilled",
        "anonymous": False,
        "inputs": [
            {"name": "requestId", "indexed": True, **_UINT},
            {"name": "consumer", "indexed": True, "type": "address"},
            {"name": "code", "indexed": False, "type": "uint8"},
            {"name": "timestamp", "indexed": False, "type": "uint64"},
            {"name": "callbackOk", "indexed": False, "type": "bool"},
            {"name": "reason", "indexed": False, "type": "bytes"},
        ],
    },
    {
        "type": "function",
        "name": "fulfill",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "requestId", **_UINT},
            {"name": "code", "type": "uint8"},
            {"name": "result", "type": "bytes"},
            {"name": "timestamp", "type": "uint64"},
            {"name": "signature", "type": "bytes"},
        ],
        "outputs": [],
    },
]


#: the contract's custom errors a ``fulfill`` can revert with, by selector (hex, no prefix)
_ERRORS = CustomErrors(
    "UnknownRequest(uint256)",
    "AlreadyFulfilled(uint256)",
    "NotPending(uint256)",
    "ResultTooLarge()",
    "ResultWithoutSuccess()",
    "BadSignature()",
    "NotEnoughGasForCallback(uint256)",
)


@dataclass(frozen=True, slots=True)
class EvmOracleRequest:
    """One request as its event showed it."""

    request_id: int
    consumer: str
    url: str
    filter: str
    block_number: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class EvmOracleFulfilment:
    """One ``OracleFulfilled`` event: the code delivered, whether the consumer's callback ran, and why not."""

    request_id: int
    consumer: str
    code: int
    timestamp_ms: int
    callback_ok: bool
    reason: bytes


#: what to fetch for a request, the tenant owning the secrets it references and their sealed values;
#: ``None``: refuse the request (``FORBIDDEN``)
SpecResolver = Callable[[EvmOracleRequest], Awaitable[tuple[FetchSpec, str, Sequence[SealedSecret]] | None]]


class EvmOracleGateway:
    """The oracle contract at ``address`` on ``chain``."""

    def __init__(self, chain: EvmChain, address: str) -> None:
        self.chain = chain
        self.address = AsyncWeb3.to_checksum_address(address)
        self._contract = chain.contract(self.address, ABI)

    async def requests(self, from_block: int, to_block: int) -> list[EvmOracleRequest]:
        event = self._contract.events.OracleRequested()
        logs = await self.chain.get_logs(
            {
                "address": self.address,
                "topics": [event.topic],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        found = []
        for log in logs:
            args = event.process_log(log)["args"]
            found.append(
                EvmOracleRequest(
                    request_id=int(args["requestId"]),
                    consumer=str(args["consumer"]),
                    url=str(args["url"]),
                    filter=str(args["filter"]),
                    block_number=int(log["blockNumber"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                )
            )
        return found

    def fulfilments(self, receipt: EvmReceipt) -> list[EvmOracleFulfilment]:
        """The ``OracleFulfilled`` events in a transaction's receipt."""
        event = self._contract.events.OracleFulfilled()
        topic = HexBytes(event.topic)
        found = []
        for log in receipt.logs:
            if log["address"] != self.address or not log["topics"] or HexBytes(log["topics"][0]) != topic:
                continue
            args = event.process_log(log)["args"]
            found.append(
                EvmOracleFulfilment(
                    request_id=int(args["requestId"]),
                    consumer=str(args["consumer"]),
                    code=int(args["code"]),
                    timestamp_ms=int(args["timestamp"]),
                    callback_ok=bool(args["callbackOk"]),
                    reason=bytes(args["reason"]),
                )
            )
        return found

    def facts(self, request_id: int, consumer: str, url: str, filter_: str) -> EvmOracleFacts:
        """What the enclave is told about a request: chain id, contract, request id, consumer, URL, filter."""
        return EvmOracleFacts(
            chain_id=self.chain.chain_id,
            contract=address_bytes(self.address),
            request_id=request_id,
            consumer=address_bytes(AsyncWeb3.to_checksum_address(consumer)),
            url=url,
            filter=filter_,
        )

    def revert_name(self, data: str | None) -> str | None:
        """The contract's custom error whose selector starts the revert data, if any."""
        return _ERRORS.name(data)

    def fulfill_data(self, answer: SignedEvmOracleAnswer) -> bytes:
        encoded = self._contract.encode_abi(
            "fulfill",
            args=[answer.request_id, int(answer.code), answer.result, answer.timestamp_ms, answer.signature],
        )
        return bytes.fromhex(str(encoded).removeprefix("0x"))

    async def fulfill(self, sender: EvmSigner, answer: SignedEvmOracleAnswer) -> EvmReceipt:
        """Send ``fulfill``; raises ``TransactionReverted`` (never sent) if the contract refuses it."""
        return await self.chain.send(sender, self.address, self.fulfill_data(answer))


async def answer_request(
    gateway: EvmOracleGateway,
    enclave: EvmOracleEnclave,
    key_id: str,
    request: EvmOracleRequest,
    spec_for: SpecResolver | None = None,
) -> SignedEvmOracleAnswer:
    """The enclave's signed answer to ``request``: a fetch of its URL with its filter (the platform's own,
    no secrets), of what ``spec_for`` resolves (a template), or a signed ``FORBIDDEN`` refusal."""
    facts = gateway.facts(request.request_id, request.consumer, request.url, request.filter)
    if spec_for is not None:
        resolved = await spec_for(request)
        if resolved is None:
            return await enclave.oracle_evm_refuse(facts, ResultCode.FORBIDDEN, key_id=key_id)
        spec, tenant, secrets = resolved
        return await enclave.oracle_evm_fetch(facts, spec, tenant=tenant, key_id=key_id, secrets=secrets)
    if is_template_url(request.url):
        return await enclave.oracle_evm_refuse(facts, ResultCode.FORBIDDEN, key_id=key_id)
    try:
        spec = FetchSpec(url=request.url, filter=request.filter).check()
    except InvalidInput:
        return await enclave.oracle_evm_refuse(facts, ResultCode.FORBIDDEN, key_id=key_id)
    return await enclave.oracle_evm_fetch(facts, spec, tenant=PLATFORM_KEY_OWNER, key_id=key_id)


async def answer_requests(
    gateway: EvmOracleGateway,
    enclave: EvmOracleEnclave,
    key_id: str,
    sender: EvmSigner,
    requests: Sequence[EvmOracleRequest],
    spec_for: SpecResolver | None = None,
) -> list[EvmReceipt]:
    """Answer each of ``requests`` through the enclave and send its ``fulfill``, in order."""
    receipts = []
    for request in requests:
        answer = await answer_request(gateway, enclave, key_id, request, spec_for)
        receipts.append(await gateway.fulfill(sender, answer))
    return receipts
