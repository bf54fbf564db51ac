"""The BLS12-381 check of a randomness proof, with pyblst (``pip install 'neo-service-layer-client[bls]'``).

The proof is the service's BLS signature (G2, IETF hash-to-curve with ``DST``) over the request's
facts: one value per request that only the key holder can make, so the service cannot pick among
outputs. pyblst is optional (a native wheel); ``verify_randomness`` asks for it only when it is given
the BLS public key to check against, and says how to install it when it is missing.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
#: the order of G1 and G2
ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)
PUBLIC_KEY_BYTES = 48
SIGNATURE_BYTES = 96


class BlsLibraryMissing(ImportError):
    """The BLS check was asked for and pyblst is not installed."""


def _pyblst() -> ModuleType:
    try:
        import pyblst
    except ImportError as exc:
        raise BlsLibraryMissing(
            "checking the BLS proof needs pyblst: pip install 'neo-service-layer-client[bls]'"
        ) from exc
    module: ModuleType = pyblst
    return module


def _in_prime_subgroup(point: Any) -> bool:
    """``r·P = O``, checked as ``(r-1)·P == -P`` (pyblst reduces scalars mod r)."""
    return bool(point.scalar_mul(ORDER - 1) == -point)


def bls_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``e(pk, H(m)) == e(G1, sig)``: ``public_key`` a compressed G1 point, ``signature`` a compressed
    G2 point, both in the prime-order subgroup and neither the point at infinity."""
    blst = _pyblst()
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    if public_key[0] & 0x40 or signature[0] & 0x40:  # the point at infinity proves nothing
        return False
    try:
        pk = blst.BlstP1Element.uncompress(public_key)
        sig = blst.BlstP2Element.uncompress(signature)
    except ValueError:  # not on the curve, or not in the subgroup
        return False
    if not (_in_prime_subgroup(pk) and _in_prime_subgroup(sig)):
        return False
    hashed = blst.BlstP2Element.hash_to_group(message, DST)
    generator = blst.BlstP1Element.uncompress(G1_GENERATOR)
    return bool(blst.final_verify(blst.miller_loop(pk, hashed), blst.miller_loop(generator, sig)))
