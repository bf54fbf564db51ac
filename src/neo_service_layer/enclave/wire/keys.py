"""Keys held by the enclave, as the rest of the system sees them: kinds, purposes, policies, errors.

Only the standard library is imported here. Private key material never appears in these types; the
services know key ids, versions and public keys, and ask the enclave (through the ``Enclave`` port)
to sign.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias

KeyId: TypeAlias = str
TenantId: TypeAlias = str

#: the enclave tenant that owns the platform's own keys (services' signing keys, the transaction sender);
#: not an identity tenant: no user or API key can act for it
PLATFORM_KEY_OWNER: TenantId = "__platform__"

#: messages the enclave signs in one ``sign_batch`` call; a caller with more splits them over calls
MAX_SIGN_BATCH = 256

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,128}$")


class KeyKind(StrEnum):
    """Curve / signature scheme of a key."""

    SECP256R1 = "secp256r1"  # Neo N3 accounts, CryptoLib.verifyWithECDsa
    SECP256K1 = "secp256k1"  # EVM (Neo X) and CryptoLib secp256k1
    ED25519 = "ed25519"
    BLS12_381 = "bls12-381"  # public key in G1, signature in G2


class Purpose(StrEnum):
    """What a key may be used for; the sealed policy lists the allowed ones."""

    NEO_TX = "neo-tx"
    MESSAGE = "message"
    RANDOMNESS = "randomness"
    ORACLE = "oracle"
    EVM_TX = "evm-tx"
    ATTESTATION = "attestation"
    AUTOMATION = "automation"
    #: the compute key: signs only the answers and receipts ``compute_run`` builds
    COMPUTE = "compute"
    #: the designated node key of Neo's native Oracle: signs only the responses ``native_oracle_respond``
    #: builds (the response transaction and its ``submitoracleresponse`` message)
    NATIVE_ORACLE = "native-oracle"
    #: the development owner of the service contracts (administration, never the sender): only the
    #: ``cli`` client signs with it (``clients.py``), never the worker or the api
    CONTRACT_OWNER = "contract-owner"
    #: the randomness service's secp256k1 key for EVM chains (Neo X): signs only the answers
    #: ``randomness_evm_fulfil`` builds (the contract checks them with ``ecrecover``)
    RANDOMNESS_EVM = "randomness-evm"
    #: the oracle service's secp256k1 key for EVM chains (Neo X): signs only the answers
    #: ``oracle_evm_fetch`` builds from what it fetched (the contract checks them with ``ecrecover``)
    ORACLE_EVM = "oracle-evm"
    #: the platform's Ed25519 webhook key: signs only fresh Standard Webhooks ``v1a`` messages of one
    #: subscription, which ``webhook_sign`` checks (``wire/webhooks.py``)
    WEBHOOKS = "webhooks"
    #: the platform's secp256k1 transaction sender on EVM chains (Neo X): signs only the EIP-1559
    #: transactions ``evm_sign_transaction`` builds from their fields and allows (``evm_tx_rules.py``)
    EVM_SENDER = "evm-sender"
    #: the cross-chain message key (secp256k1): signs only the MESSAGE and RECEIPT digests
    #: ``crosschain_sign`` builds from a gateway event it read from its own node of the source chain
    #: (``wire/crosschain.py``; ``ecrecover`` on Neo X, ``CryptoLib.verifyWithECDsa`` on N3)
    CROSSCHAIN = "crosschain"


#: purposes whose keys sign only inside a typed enclave operation that builds the message itself
#: (``randomness``: ``randomness_fulfil``; ``randomness-evm``: ``randomness_evm_fulfil``; ``oracle-evm``:
#: ``oracle_evm_fetch``; ``evm-sender``: ``evm_sign_transaction``; ``crosschain``: ``crosschain_sign``);
#: the raw ``sign``/``sign_batch``/``sign_batch_packed`` refuse every key whose policy lists one of them,
#: whatever purpose the caller names
TYPED_ONLY_PURPOSES: frozenset[Purpose] = frozenset(
    {
        Purpose.RANDOMNESS,
        Purpose.RANDOMNESS_EVM,
        Purpose.ORACLE_EVM,
        Purpose.NATIVE_ORACLE,
        Purpose.COMPUTE,
        Purpose.WEBHOOKS,
        Purpose.EVM_SENDER,
        Purpose.CROSSCHAIN,
    }
)
#: purposes only the platform's own keys have: a tenant key never gets one (the typed-only ones, and the
#: contracts' owner key, which only the cli client signs with)
PLATFORM_ONLY_PURPOSES: frozenset[Purpose] = TYPED_ONLY_PURPOSES | {Purpose.CONTRACT_OWNER}


class SignatureFormat(StrEnum):
    """How the message is hashed and how the signature is encoded."""

    NEO_TX = "neo-tx"  # secp256r1: SHA-256 over network magic (u32 LE) + 32-byte tx hash; r||s
    ECDSA_SHA256 = "ecdsa-sha256"  # 64-byte r||s over SHA-256(message)
    ECDSA_KECCAK256 = "ecdsa-keccak256"  # 64-byte r||s over Keccak-256(message)
    EVM_RECOVERABLE = "evm-recoverable"  # secp256k1: 65-byte r||s||v (v=27/28) over Keccak-256(message)
    EVM_DIGEST = "evm-digest"  # secp256k1: 65-byte r||s||v over a caller-computed 32-byte digest
    ED25519 = "ed25519"  # 64-byte RFC 8032 signature over the message
    BLS = "bls"  # 96-byte G2 signature over hash_to_G2(message, BLS_DST)


FORMATS_BY_KIND: Mapping[KeyKind, frozenset[SignatureFormat]] = {
    KeyKind.SECP256R1: frozenset(
        {SignatureFormat.NEO_TX, SignatureFormat.ECDSA_SHA256, SignatureFormat.ECDSA_KECCAK256}
    ),
    KeyKind.SECP256K1: frozenset(
        {
            SignatureFormat.EVM_RECOVERABLE,
            SignatureFormat.EVM_DIGEST,
            SignatureFormat.ECDSA_SHA256,
            SignatureFormat.ECDSA_KECCAK256,
        }
    ),
    KeyKind.ED25519: frozenset({SignatureFormat.ED25519}),
    KeyKind.BLS12_381: frozenset({SignatureFormat.BLS}),
}


class KeyStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


# Errors ------------------------------------------------------------------------------------------
# Raised inside the enclave and raised again, with the same class, by the enclave client.


class EnclaveOperationError(Exception):
    """An enclave operation was refused; ``code`` is the stable wire code."""

    code: ClassVar[str] = "enclave_error"


class InvalidKeyRequest(EnclaveOperationError):
    """Arguments that can never succeed (unknown kind, format not valid for the key, bad length)."""

    code = "invalid_argument"


class KeyNotLoaded(EnclaveOperationError):
    """The enclave does not hold this key (version) in memory; load its sealed record first."""

    code = "key_not_loaded"


class ArtifactNotLoaded(EnclaveOperationError):
    """The enclave has not compiled this compute artefact (by SHA-256); send it with ``compute_load``."""

    code = "artifact_not_loaded"


class PolicyDenied(EnclaveOperationError):
    """The key's sealed policy does not allow this tenant or purpose."""

    code = "policy_denied"


class SignRateExceeded(PolicyDenied):
    """The key's sealed policy caps signatures per minute and the cap is reached."""

    code = "rate_limited"


class OperationNotAllowed(PolicyDenied):
    """The calling client (its token) may not use this operation, or not on this key owner or label."""

    code = "operation_not_allowed"


class CredentialRequired(PolicyDenied):
    """The tenant's operations need the caller's own enclave-issued API key (``wire.credentials``), and it
    was missing, malformed, forged, of another tenant, expired, revoked or without the operation's scope."""

    code = "credential_required"


class DestructionRefused(PolicyDenied):
    """The enclave destroys only a key its tenant disabled at least the grace period (7 days) before,
    by the enclave's own clock, and did not enable again since."""

    code = "destruction_refused"


class KeyDisabled(EnclaveOperationError):
    """The key was disabled or destroyed and signs nothing more."""

    code = "key_disabled"


class SealedDataInvalid(EnclaveOperationError):
    """A sealed blob was edited, truncated, moved to another key/tenant/label, or sealed elsewhere."""

    code = "unseal_failed"


class AttestationFailed(EnclaveOperationError):
    """The platform could not produce an attestation report."""

    code = "attestation_failed"


ERRORS_BY_CODE: Mapping[str, type[EnclaveOperationError]] = {
    cls.code: cls
    for cls in (
        InvalidKeyRequest,
        KeyNotLoaded,
        ArtifactNotLoaded,
        PolicyDenied,
        SignRateExceeded,
        OperationNotAllowed,
        CredentialRequired,
        KeyDisabled,
        SealedDataInvalid,
        AttestationFailed,
        DestructionRefused,
    )
}


# Value objects -----------------------------------------------------------------------------------


def check_key_id(key_id: str) -> KeyId:
    """Return ``key_id`` if it is a well-formed key id, else raise ``InvalidKeyRequest``."""
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise InvalidKeyRequest("key id must be 1-64 characters of [A-Za-z0-9_-]")
    return key_id


def check_name(value: str, what: str) -> str:
    """Return a tenant id or seal label if well formed, else raise ``InvalidKeyRequest``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidKeyRequest(f"{what} must be 1-128 characters of [A-Za-z0-9_.:@/-]")
    return value


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """Who may use a key and for what. Sealed with the key, so editing the database cannot widen it."""

    tenant: TenantId
    purposes: frozenset[Purpose]
    max_signs_per_minute: int | None = None

    def __post_init__(self) -> None:
        check_name(self.tenant, "tenant")
        if not self.purposes:
            raise InvalidKeyRequest("a key policy needs at least one purpose")
        if self.max_signs_per_minute is not None and self.max_signs_per_minute < 1:
            raise InvalidKeyRequest("max_signs_per_minute must be at least 1")

    @classmethod
    def of(
        cls, tenant: str, purposes: Iterable[Purpose | str], max_signs_per_minute: int | None = None
    ) -> KeyPolicy:
        """Build a policy from plain values; unknown purposes raise ``InvalidKeyRequest``."""
        try:
            chosen = frozenset(Purpose(p) for p in purposes)
        except ValueError as exc:
            raise InvalidKeyRequest(f"unknown purpose: {exc}") from None
        return cls(tenant=tenant, purposes=chosen, max_signs_per_minute=max_signs_per_minute)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "purposes": sorted(p.value for p in self.purposes),
            "max_signs_per_minute": self.max_signs_per_minute,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyPolicy:
        """Inverse of ``to_dict``; raises ``InvalidKeyRequest`` on malformed input."""
        try:
            tenant = data["tenant"]
            purposes = data["purposes"]
            rate = data.get("max_signs_per_minute")
        except (KeyError, TypeError, AttributeError):
            raise InvalidKeyRequest("policy needs tenant and purposes") from None
        if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
            raise InvalidKeyRequest("policy purposes must be a list of strings")
        if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool)):
            raise InvalidKeyRequest("max_signs_per_minute must be an integer or null")
        return cls.of(tenant, purposes, rate)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public facts about one version of a key."""

    key_id: KeyId
    kind: KeyKind
    version: int
    public_key: bytes
    status: KeyStatus
    tenant: TenantId


@dataclass(frozen=True, slots=True)
class SealedKey:
    """A key version plus its sealed record: what the database stores to re-provision an enclave."""

    info: KeyInfo
    sealed_record: bytes = field(repr=False)
