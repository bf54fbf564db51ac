"""BLS12-381 signatures (IETF BLS, minimal-pubkey-size: public key in G1, signature in G2) via pyblst.

Messages are hashed to G2 with RFC 9380 ``hash_to_curve`` under ``BLS_DST`` (the basic scheme's
"NUL" ciphersuite). Neo's CryptoLib has pairings but no hash-to-curve, so the contract receives
``message_point(m)`` (compressed G2, 96 bytes) computed off chain and checks
``e(pk, H(m)) == e(G1, sig)``.
"""

from __future__ import annotations

import secrets

from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
PUBLIC_KEY_BYTES = 48
SIGNATURE_BYTES = 96
SECRET_BYTES = 32

G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)
G2_GENERATOR = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
    "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
)
_INFINITY_G1 = bytes([0xC0]) + bytes(PUBLIC_KEY_BYTES - 1)
_INFINITY_G2 = bytes([0xC0]) + bytes(SIGNATURE_BYTES - 1)


def generate_secret() -> int:
    """A uniformly random non-zero scalar (48 random bytes reduced mod r: bias below 2^-128)."""
    while True:
        scalar = int.from_bytes(secrets.token_bytes(48), "big") % CURVE_ORDER
        if scalar:
            return scalar


def secret_from_bytes(data: bytes) -> int:
    scalar = int.from_bytes(data, "big")
    if len(data) != SECRET_BYTES or not 0 < scalar < CURVE_ORDER:
        raise ValueError("invalid BLS secret scalar")
    return scalar


def secret_to_bytes(scalar: int) -> bytes:
    return scalar.to_bytes(SECRET_BYTES, "big")


def public_key(scalar: int) -> bytes:
    """Compressed G1 public key ``sk·G1`` (48 bytes)."""
    return bytes(BlstP1Element.uncompress(G1_GENERATOR).scalar_mul(scalar).compress())


def message_point(message: bytes) -> bytes:
    """Compressed G2 point ``hash_to_G2(message, BLS_DST)`` (96 bytes)."""
    return bytes(BlstP2Element.hash_to_group(message, BLS_DST).compress())


def sign(scalar: int, message: bytes) -> bytes:
    """Compressed G2 signature ``sk·H(message)`` (96 bytes)."""
    return bytes(BlstP2Element.hash_to_group(message, BLS_DST).scalar_mul(scalar).compress())


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Check ``e(pk, H(m)) == e(G1, sig)``; false for malformed or identity points.

    pyblst decompression checks that points are on the curve; keys and signatures verified here are
    expected to come from this enclave (their subgroup membership is not checked separately).
    """
    if len(public) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    if public == _INFINITY_G1 or signature == _INFINITY_G2:
        return False
    try:
        pk = BlstP1Element.uncompress(public)
        sig = BlstP2Element.uncompress(signature)
    except ValueError:
        return False
    hashed = BlstP2Element.hash_to_group(message, BLS_DST)
    left = miller_loop(pk, hashed)
    right = miller_loop(BlstP1Element.uncompress(G1_GENERATOR), sig)
    return bool(final_verify(left, right))
