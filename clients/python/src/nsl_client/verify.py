"""Off-chain checks of the service's signed answers, with no server call: the bytes signed are rebuilt
exactly as the enclave and the on-chain contracts build them (``enclave/wire/randomness.py``,
``oracle.py``, ``compute.py``), so any changed byte of an answer fails.

Each function returns ``True`` only when every check holds. Pass the public key you trust (from
``network.json``'s ``service_keys``, ``GET /api/v1/neo/network`` or an attestation report): a key taken
from the answer itself proves only that someone signed it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from nsl_client.bls import bls_verify
from nsl_client.models import OracleAnswer, RandomnessAnswer, Receipt

RANDOMNESS_TAG = b"NSL-RANDOMNESS-V2"
VRF_TAG = b"NSL-RANDOMNESS-VRF-V2"
ORACLE_TAG = b"NSL-ORACLE-V2"
RECEIPT_TAG = b"NSL-COMPUTE-RECEIPT-V1"
RECEIPT_VERSION = 1
#: words are below 2**255 so NeoVM reads them as positive integers
WORD_MODULUS = 2**255
MAX_WORDS = 100


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def _names(text: str, key: bytes) -> bool:
    """The hex ``text`` is exactly ``key``."""
    try:
        return _hex(text) == key
    except ValueError:
        return False


def script_hash_bytes(text: str) -> bytes:
    """``0x...`` big-endian script hash text to the 20 bytes NeoVM stores (reversed)."""
    value = _hex(text)
    if len(value) != 20:
        raise ValueError("a script hash is 20 bytes")
    return value[::-1]


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _prefixed(value: bytes) -> bytes:
    return _u32(len(value)) + value


def ecdsa_p256_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """secp256r1 ECDSA over SHA-256(message), 64-byte ``r || s`` (what CryptoLib checks on chain)."""
    if len(signature) != 64:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _request_bound(answer: RandomnessAnswer) -> bytes:
    """``u32le(magic) || contract || u64le(requestId)``: what binds both signed messages to one request."""
    request_id = int(answer.request_id)
    if not 0 <= request_id < 2**63:
        raise ValueError("request id out of range")
    return _u32(answer.network_magic) + script_hash_bytes(answer.contract) + _u64(request_id)


def randomness_message(answer: RandomnessAnswer) -> bytes:
    """The fulfil message the service's secp256r1 key signed: ``"NSL-RANDOMNESS-V2" || u32le(magic) ||
    contract || u64le(requestId) || consumer || seed || output || SHA-256(proof)``."""
    return b"".join(
        (
            RANDOMNESS_TAG,
            _request_bound(answer),
            script_hash_bytes(answer.consumer),
            _hex(answer.seed),
            _hex(answer.output),
            hashlib.sha256(_hex(answer.proof)).digest(),
        )
    )


def vrf_input(answer: RandomnessAnswer) -> bytes:
    """The message the service's BLS key signed; the signature is the proof: ``"NSL-RANDOMNESS-VRF-V2"
    || u32le(magic) || contract || u64le(requestId) || seed``."""
    return VRF_TAG + _request_bound(answer) + _hex(answer.seed)


def derive_words(output: bytes, count: int) -> list[int]:
    """The words a consumer receives for ``output``: ``SHA-256(output || i)`` little-endian."""
    return [
        int.from_bytes(hashlib.sha256(output + bytes([i])).digest(), "little") % WORD_MODULUS
        for i in range(count)
    ]


def verify_randomness(
    answer: RandomnessAnswer, public_key: bytes, *, bls_public_key: bytes | None = None
) -> bool:
    """``output = SHA-256(proof)``, the words derived from the output, the seed 32 bytes, the keys the
    answer names are the trusted ones, and the ECDSA signature over the fulfil message by
    ``public_key``. With ``bls_public_key``, also the proof itself: a BLS signature by that key over
    the request's facts (``vrf_input``), which pins the output to the request so the service could not
    have chosen it. That check needs pyblst (``BlsLibraryMissing`` says how to install it)."""
    if not _names(answer.public_key, public_key):
        return False
    if bls_public_key is not None and not _names(answer.bls_public_key, bls_public_key):
        return False
    try:
        proof, output, seed = _hex(answer.proof), _hex(answer.output), _hex(answer.seed)
        words = [int(w) for w in answer.words]
        message = randomness_message(answer)
        signature = _hex(answer.signature)
        proven = vrf_input(answer)
    except ValueError:
        return False
    return (
        len(proof) == 96
        and len(seed) == 32
        and hashlib.sha256(proof).digest() == output
        and 1 <= len(words) <= MAX_WORDS
        and derive_words(output, len(words)) == words
        and ecdsa_p256_verify(public_key, message, signature)
        and (bls_public_key is None or bls_verify(bls_public_key, proven, proof))
    )


def oracle_message(answer: OracleAnswer) -> bytes:
    """The bytes the oracle key signed (``NSL-ORACLE-V2``: magic, contract, request id, consumer, code,
    timestamp, then url, filter and result each length-prefixed)."""
    return b"".join(
        (
            ORACLE_TAG,
            _u32(answer.network_magic),
            script_hash_bytes(answer.contract),
            _u64(int(answer.request_id)),
            script_hash_bytes(answer.consumer),
            _u32(answer.code),
            _u64(answer.timestamp),
            _prefixed(answer.url.encode()),
            _prefixed(answer.filter.encode()),
            _prefixed(_hex(answer.result)),
        )
    )


def verify_oracle_answer(answer: OracleAnswer, public_key: bytes) -> bool:
    """The oracle key's signature over the answer's facts, code, timestamp, URL, filter and result;
    the answer names ``public_key`` and its ``result_text`` is its result's text."""
    if not _names(answer.public_key, public_key):
        return False
    if answer.result_text is not None and not _names(answer.result, answer.result_text.encode()):
        return False
    try:
        message, signature = oracle_message(answer), _hex(answer.signature)
    except (ValueError, struct.error):
        return False
    return ecdsa_p256_verify(public_key, message, signature)


def receipt_message(receipt: Receipt) -> bytes:
    """The bytes the compute key signed for an off-chain run (``NSL-COMPUTE-RECEIPT-V1``)."""
    hashes_ = [_hex(receipt.function_hash), _hex(receipt.input_sha256), _hex(receipt.result_sha256)]
    if any(len(h) != 32 for h in hashes_):
        raise ValueError("receipt hashes are 32 bytes")
    return b"".join(
        (
            RECEIPT_TAG,
            _prefixed(receipt.tenant.encode()),
            _prefixed(receipt.function_id.encode()),
            hashes_[0],
            hashes_[1],
            _u32(receipt.code),
            _u64(receipt.timestamp),
            hashes_[2],
        )
    )


def input_text(value: Any) -> str:
    """The JSON text a run's input is hashed as (compact, UTF-8 unescaped)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def verify_compute_receipt(
    receipt: Receipt,
    public_key: bytes,
    *,
    result: bytes | None = None,
    input: Any = None,
    check_input: bool = False,
) -> bool:
    """The compute key's signature over the receipt (every field but ``key_version``, which is not
    signed); with ``result`` (bytes, e.g. the run's decoded ``result_base64``) and ``input``
    (``check_input=True``), also that they are the ones signed."""
    try:
        message, signature = receipt_message(receipt), _hex(receipt.signature)
    except (ValueError, struct.error):
        return False
    if receipt.version != RECEIPT_VERSION or not _names(receipt.public_key, public_key):
        return False
    if result is not None and hashlib.sha256(result).hexdigest() != receipt.result_sha256.lower():
        return False
    input_hash = hashlib.sha256(input_text(input).encode()).hexdigest()
    if check_input and input_hash != receipt.input_sha256.lower():
        return False
    return ecdsa_p256_verify(public_key, message, signature)


def decode_result(result_base64: str) -> bytes:
    return base64.b64decode(result_base64, validate=True)
