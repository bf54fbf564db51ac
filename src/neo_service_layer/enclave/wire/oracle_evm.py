"""The oracle service's signed byte formats for EVM chains (Neo X), built inside the enclave.

Standard library only. The enclave's ``oracle_evm_fetch`` operation (``enclave/oracle_evm.py``) fetches,
filters and builds these bytes itself from the request's chain facts and what it fetched; the host supplies
no result, code or message. The EVM contract (``contracts/evm/OracleService.sol``) rebuilds the fulfil
preimage from ``block.chainid``, its own address and the request's stored consumer, URL hash and filter
hash, and accepts the answer only if ``ecrecover(keccak256(preimage))`` is its configured signer.

Encoding (V1; ``u256`` is 32 bytes big-endian, as ``abi.encodePacked`` writes a ``uint256``; addresses are
their 20 bytes; ``H`` is Keccak-256)::

    preimage  = "NSL-ORACLE-EVM-V1" || u256(chainId) || contract || u256(requestId) || consumer
                || H(url) || H(filter) || u256(code) || H(result) || u256(timestamp)
    signature = secp256k1 (key of purpose oracle-evm) over H(preimage): 65 bytes r || s || v, v in {27, 28},
                low s

``url`` and ``filter`` are the UTF-8 bytes the request carried on chain; ``code`` a ``ResultCode``;
``result`` is empty unless ``code`` is ``SUCCESS``; ``timestamp`` is milliseconds since the Unix epoch
when the enclave completed the fetch. The standard library has no Keccak-256 (``hashlib.sha3_256`` pads
differently), so the functions that need it take it as ``keccak256``: the enclave passes its own, the host
``eth_utils``'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.oracle import (
    MAX_FILTER_BYTES,
    MAX_RESULT_BYTES,
    MAX_URL_BYTES,
    ResultCode,
)
from neo_service_layer.enclave.wire.randomness_evm import ADDRESS_BYTES

FULFIL_TAG: Final = b"NSL-ORACLE-EVM-V1"
HASH_BYTES: Final = 32
#: the largest code the contract's ``uint8 code`` takes
MAX_CODE: Final = 255
_U64_LIMIT: Final = 2**64
_U256_LIMIT: Final = 2**256

Keccak256 = Callable[[bytes], bytes]


def _u256(name: str, value: int, *, minimum: int = 0, limit: int = _U256_LIMIT) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < limit:
        raise InvalidInput(f"{name} must be an integer between {minimum} and {limit - 1}")
    return value.to_bytes(32, "big")


def _address(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != ADDRESS_BYTES:
        raise InvalidInput(f"{name} must be {ADDRESS_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class EvmOracleFacts:
    """What one EVM oracle answer is bound to: chain id, contract, request id, consumer, URL and filter
    (the URL and filter as the request carried them: the contract keeps only their hashes)."""

    chain_id: int
    contract: bytes
    request_id: int
    consumer: bytes
    url: str
    filter: str

    def __post_init__(self) -> None:
        _u256("chain id", self.chain_id, minimum=1)
        _u256("request id", self.request_id)
        _address("contract", self.contract)
        _address("consumer", self.consumer)
        if not isinstance(self.url, str) or not isinstance(self.filter, str):
            raise InvalidInput("url and filter must be text")
        if not 1 <= len(self.url.encode()) <= MAX_URL_BYTES:
            raise InvalidInput(f"url must be 1-{MAX_URL_BYTES} bytes")
        if len(self.filter.encode()) > MAX_FILTER_BYTES:
            raise InvalidInput(f"filter must be at most {MAX_FILTER_BYTES} bytes")


def fulfil_preimage(
    facts: EvmOracleFacts, code: ResultCode | int, result: bytes, timestamp_ms: int, keccak256: Keccak256
) -> bytes:
    """The bytes whose Keccak-256 the EVM oracle key signs and ``fulfill`` recomputes."""
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= int(code) <= MAX_CODE:
        raise InvalidInput(f"code must be between 0 and {MAX_CODE}")
    if not isinstance(result, bytes) or len(result) > MAX_RESULT_BYTES:
        raise InvalidInput(f"result must be at most {MAX_RESULT_BYTES} bytes")
    if int(code) != ResultCode.SUCCESS and result:
        raise InvalidInput("only a successful answer carries a result")

    def hashed(value: bytes) -> bytes:
        digest = keccak256(value)
        if len(digest) != HASH_BYTES:
            raise InvalidInput("keccak256 must return 32 bytes")
        return digest

    return b"".join(
        (
            FULFIL_TAG,
            _u256("chain id", facts.chain_id, minimum=1),
            facts.contract,
            _u256("request id", facts.request_id),
            facts.consumer,
            hashed(facts.url.encode()),
            hashed(facts.filter.encode()),
            _u256("code", int(code)),
            hashed(result),
            _u256("timestamp", timestamp_ms, limit=_U64_LIMIT),
        )
    )


@dataclass(frozen=True, slots=True)
class SignedEvmOracleAnswer:
    """One answer as ``oracle_evm_fetch`` returns it: what ``fulfill`` takes (code, result, timestamp,
    signature), the key that signed, and what the enclave saw (not signed: for logs and the operator)."""

    facts: EvmOracleFacts
    code: ResultCode
    result: bytes
    timestamp_ms: int
    signature: bytes
    key_id: str
    key_version: int
    public_key: bytes
    status: int | None = None
    content_type: str | None = None
    detail: str = ""

    @property
    def request_id(self) -> int:
        return self.facts.request_id

    def preimage(self, keccak256: Keccak256) -> bytes:
        """The signed preimage (``fulfil_preimage`` of this answer)."""
        return fulfil_preimage(self.facts, self.code, self.result, self.timestamp_ms, keccak256)
