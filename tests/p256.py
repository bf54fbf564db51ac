"""Checking a secp256r1 signature as a Neo contract does (``r || s``, 64 bytes, over SHA-256 of the
message) with ``cryptography`` alone, independently of the code under test."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def p256_verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raises ``InvalidSignature`` unless ``signature`` is ``public_key``'s over ``message``."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, message, ec.ECDSA(hashes.SHA256()))


def p256_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``message``."""
    try:
        p256_verify(public_key, signature, message)
    except InvalidSignature:
        return False
    return True
