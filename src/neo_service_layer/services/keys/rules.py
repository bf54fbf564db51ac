"""Keys as a tenant manages them: metadata, versions, and the lifecycle rules (rotation, destruction).

Only the standard library is imported here. The private material lives in the enclave; what is here is
the tenant-visible record of a key (label, kind, purposes, versions with their public keys, status) and
the rules the keys service applies before it asks the enclave for anything:

- a key older than the rotation age (its newest version's creation time) is *rotation due*;
- signing uses the current version; versions below ``min_sign_version`` only verify;
- destruction is scheduled with a grace period (``DESTRUCTION_GRACE``, 7 days) during which the key
  signs nothing and the schedule can be cancelled; afterwards a worker job destroys it. The enclave
  disables the key when destruction is scheduled and itself refuses to destroy it before its own grace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import Conflict, InvalidInput, NotFound
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_ONLY_PURPOSES,
    KeyId,
    KeyKind,
    Purpose,
    SignatureFormat,
    TenantId,
)

DESTRUCTION_GRACE = timedelta(days=7)
DEFAULT_MAX_AGE = timedelta(days=90)
MAX_LABEL = 100
#: messages per batch signing request (the enclave itself accepts up to 256)
MAX_BATCH_MESSAGES = 100

#: also the JSON Schema pattern of a label (ASCII: what the schema states is what is checked)
LABEL_PATTERN = r"^[A-Za-z0-9_ .:@/+-]{1,100}$"
_LABEL = re.compile(LABEL_PATTERN)


class KeyState(StrEnum):
    """What the API reports; ``pending_destruction`` is an active or disabled key with a schedule."""

    ACTIVE = "active"
    DISABLED = "disabled"
    PENDING_DESTRUCTION = "pending_destruction"
    DESTROYED = "destroyed"


class KeyNotFound(NotFound):
    code = "key-not-found"


class KeyNotUsable(Conflict):
    """The key (version) cannot do this in its current state (disabled, pending destruction, ...)."""

    code = "key-not-usable"


class InvalidKeyInput(InvalidInput):
    code = "invalid-key-input"


class NoSuchKeyVersion(InvalidKeyInput):
    """The request names a version the key does not have (422: the key itself exists)."""

    code = "no-such-key-version"


@dataclass(frozen=True, slots=True)
class KeyVersion:
    version: int
    public_key: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ManagedKey:
    """The tenant-visible record of one enclave key and all of its versions."""

    tenant_id: TenantId
    key_id: KeyId
    label: str
    kind: KeyKind
    purposes: frozenset[Purpose]
    status: KeyState  # ACTIVE, DISABLED or DESTROYED (pending destruction is ``destroy_after``)
    current_version: int
    min_sign_version: int
    created_at: datetime
    rotated_at: datetime | None = None
    disabled_at: datetime | None = None
    destroy_after: datetime | None = None
    destroyed_at: datetime | None = None
    max_signs_per_minute: int | None = None
    versions: tuple[KeyVersion, ...] = field(default=())

    @property
    def state(self) -> KeyState:
        if self.status is KeyState.DESTROYED:
            return KeyState.DESTROYED
        if self.destroy_after is not None:
            return KeyState.PENDING_DESTRUCTION
        return self.status

    def version(self, number: int | None = None) -> KeyVersion:
        """A version by number (default: the current one); ``NoSuchKeyVersion`` if it does not exist."""
        wanted = self.current_version if number is None else number
        for item in self.versions:
            if item.version == wanted:
                return item
        raise NoSuchKeyVersion(f"key {self.key_id} has no version {wanted}")

    @property
    def current(self) -> KeyVersion:
        return self.version(None)

    def age(self, now: datetime) -> timedelta:
        """Time since the current version was created."""
        return now - self.current.created_at

    def rotation_due(self, now: datetime, max_age: timedelta) -> bool:
        return self.state in (KeyState.ACTIVE,) and self.age(now) >= max_age

    def sign_version(self, requested: int | None) -> int:
        """The version to sign with; refuses retired versions and keys that sign nothing."""
        if self.state is not KeyState.ACTIVE:
            raise KeyNotUsable(f"key {self.key_id} is {self.state.value} and signs nothing")
        number = self.current_version if requested is None else requested
        self.version(number)
        if number < self.min_sign_version:
            raise KeyNotUsable(
                f"version {number} is retired for signing (min_sign_version is {self.min_sign_version}); "
                "it still verifies"
            )
        return number

    def check_purpose(self, purpose: Purpose) -> None:
        if purpose not in self.purposes:
            raise KeyNotUsable(f"key {self.key_id} is not allowed purpose {purpose.value}")

    def rotated(self, new: KeyVersion, now: datetime, min_sign_version: int | None) -> ManagedKey:
        """The key after rotation to ``new``; ``min_sign_version`` defaults to the new version."""
        if self.state is not KeyState.ACTIVE:
            raise KeyNotUsable(f"key {self.key_id} is {self.state.value}; only active keys rotate")
        floor = new.version if min_sign_version is None else min_sign_version
        if not self.min_sign_version <= floor <= new.version:
            raise InvalidKeyInput(
                f"min_sign_version must be between {self.min_sign_version} and {new.version}"
            )
        return replace(
            self,
            versions=(*self.versions, new),
            current_version=new.version,
            min_sign_version=floor,
            rotated_at=now,
        )

    def disabled(self, now: datetime) -> ManagedKey:
        if self.status is KeyState.DESTROYED:
            raise KeyNotUsable(f"key {self.key_id} is destroyed")
        return replace(self, status=KeyState.DISABLED, disabled_at=self.disabled_at or now)

    def destruction_scheduled(self, now: datetime, grace: timedelta = DESTRUCTION_GRACE) -> ManagedKey:
        if self.state is KeyState.DESTROYED:
            raise KeyNotUsable(f"key {self.key_id} is destroyed")
        if self.destroy_after is not None:
            raise KeyNotUsable(f"key {self.key_id} is already scheduled for destruction")
        return replace(self, destroy_after=now + grace)

    def destruction_cancelled(self) -> ManagedKey:
        if self.state is not KeyState.PENDING_DESTRUCTION:
            raise KeyNotUsable(f"key {self.key_id} is not scheduled for destruction")
        return replace(self, destroy_after=None)

    def destruction_due(self, now: datetime) -> bool:
        return (
            self.state is KeyState.PENDING_DESTRUCTION
            and self.destroy_after is not None
            and (self.destroy_after <= now)
        )

    def destroyed(self, now: datetime) -> ManagedKey:
        return replace(self, status=KeyState.DESTROYED, destroyed_at=now, destroy_after=None)


def check_label(label: str) -> str:
    label = label.strip()
    if not _LABEL.fullmatch(label):
        raise InvalidKeyInput(f"label: 1-{MAX_LABEL} letters, digits, spaces and . : @ / + - _")
    return label


def check_purposes(kind: KeyKind, purposes: frozenset[Purpose]) -> frozenset[Purpose]:
    """At least one purpose; EVM transactions need secp256k1, Neo transactions secp256r1; no purpose only
    platform keys have (``randomness``, ``native-oracle``: they sign only inside their enclave operation;
    ``contract-owner``: only the cli signs with it)."""
    if not purposes:
        raise InvalidKeyInput("purposes: at least one")
    reserved = purposes & PLATFORM_ONLY_PURPOSES
    if reserved:
        names = ", ".join(sorted(p.value for p in reserved))
        raise InvalidKeyInput(f"purpose {names} is reserved for the platform's own keys")
    if Purpose.NEO_TX in purposes and kind is not KeyKind.SECP256R1:
        raise InvalidKeyInput("purpose neo-tx needs a secp256r1 key")
    if Purpose.EVM_TX in purposes and kind is not KeyKind.SECP256K1:
        raise InvalidKeyInput("purpose evm-tx needs a secp256k1 key")
    return purposes


def check_batch(count: int) -> None:
    if not 1 <= count <= MAX_BATCH_MESSAGES:
        raise InvalidKeyInput(f"messages: between 1 and {MAX_BATCH_MESSAGES}")


def default_format(kind: KeyKind) -> SignatureFormat:
    return {
        KeyKind.SECP256R1: SignatureFormat.ECDSA_SHA256,
        KeyKind.SECP256K1: SignatureFormat.EVM_RECOVERABLE,
        KeyKind.ED25519: SignatureFormat.ED25519,
        KeyKind.BLS12_381: SignatureFormat.BLS,
    }[kind]
