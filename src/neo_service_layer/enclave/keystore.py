"""Keys unsealed in enclave memory, their sealed records, and the policy check before every signature."""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from neo_service_layer.enclave import signing
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import SEAL_FORMAT, Sealer
from neo_service_layer.enclave.wire.encoding import canonical_json
from neo_service_layer.enclave.wire.feeds import MESSAGE_PREFIX as FEED_MESSAGE_PREFIX
from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    TYPED_ONLY_PURPOSES,
    InvalidKeyRequest,
    KeyDisabled,
    KeyInfo,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SealedKey,
    SignatureFormat,
    SignRateExceeded,
    check_key_id,
)
from neo_service_layer.enclave.wire.oracle import MESSAGE_PREFIX as ORACLE_MESSAGE_PREFIX

_WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class MigrationMaterial:
    """One key version in the clear, only ever inside an enclave (between two migration steps)."""

    key_id: str
    version: int
    kind: KeyKind
    public_key: bytes
    secret: bytes = field(repr=False)
    policy: KeyPolicy


@dataclass(slots=True)
class _Entry:
    key_id: str
    version: int
    signer: signing.Signer
    policy: KeyPolicy
    status: KeyStatus

    def info(self) -> KeyInfo:
        return KeyInfo(
            key_id=self.key_id,
            kind=self.signer.kind,
            version=self.version,
            public_key=self.signer.public_key,
            status=self.status,
            tenant=self.policy.tenant,
        )


class KeyStore:
    """All keys the enclave holds; private material stays inside these objects."""

    def __init__(
        self, sealer: Sealer, revocations: Revocations, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sealer = sealer
        self._revocations = revocations
        self._clock = clock
        self._keys: dict[str, dict[int, _Entry]] = {}
        self._recent: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return sum(len(versions) for versions in self._keys.values())

    def create(self, kind: KeyKind, policy: KeyPolicy) -> SealedKey:
        key_id = "k_" + secrets.token_hex(16)
        return self._add(_Entry(key_id, 1, signing.generate(kind), policy, KeyStatus.ACTIVE))

    def load(self, key_id: str, record: bytes) -> KeyInfo:
        """Unseal a key record and hold the key; the record must belong to ``key_id``."""
        entry = self._open(key_id, record)
        self._keys.setdefault(key_id, {})[entry.version] = entry
        return entry.info()

    def export_material(self, key_id: str, record: bytes) -> MigrationMaterial:
        """Open a record of this enclave for key migration; disabled and destroyed keys are refused.

        Raises:
            SealedDataInvalid: the record does not open here. KeyDisabled: the key is revoked.
        """
        entry = self._open(key_id, record)
        if entry.status is not KeyStatus.ACTIVE:
            raise KeyDisabled("key is disabled")
        return MigrationMaterial(
            key_id=entry.key_id,
            version=entry.version,
            kind=entry.signer.kind,
            public_key=entry.signer.public_key,
            secret=entry.signer.secret_bytes(),
            policy=entry.policy,
        )

    def import_material(self, material: MigrationMaterial) -> SealedKey:
        """Hold a migrated key and seal it under this enclave's sealing key.

        Raises:
            KeyDisabled: this enclave was told to destroy or disable the key.
            SealedDataInvalid: the secret does not give the stated public key.
        """
        check_key_id(material.key_id)
        if self._revocations.status(material.key_id) is not KeyStatus.ACTIVE:
            raise KeyDisabled("key was revoked in this enclave")
        try:
            signer = signing.from_secret(material.kind, material.secret)
        except (ValueError, InvalidKeyRequest):
            raise SealedDataInvalid("migrated key material is malformed") from None
        if signer.public_key != material.public_key or material.version < 1:
            raise SealedDataInvalid("migrated key material is inconsistent")
        return self._add(_Entry(material.key_id, material.version, signer, material.policy, KeyStatus.ACTIVE))

    def _open(self, key_id: str, record: bytes) -> _Entry:
        check_key_id(key_id)
        header, payload = self._sealer.open_record(record)
        if header.get("key_id") != key_id:
            raise SealedDataInvalid("sealed record belongs to another key")
        if self._revocations.is_destroyed(key_id):
            raise KeyDisabled("key was destroyed")
        try:
            body = json.loads(payload)
            kind = KeyKind(header["kind"])
            version = header["version"]
            policy = KeyPolicy.from_dict(body["policy"])
            signer = signing.from_secret(kind, bytes.fromhex(body["secret"]))
            status = KeyStatus(body["status"])
        except (ValueError, KeyError, TypeError, InvalidKeyRequest):
            raise SealedDataInvalid("sealed record content is malformed") from None
        if signer.public_key.hex() != header.get("public_key") or policy.tenant != header.get("tenant"):
            raise SealedDataInvalid("sealed record content is inconsistent")
        if not isinstance(version, int) or version < 1:
            raise SealedDataInvalid("sealed record version is malformed")
        if self._revocations.status(key_id) is KeyStatus.DISABLED:
            status = KeyStatus.DISABLED
        return _Entry(key_id, version, signer, policy, status)

    def info(self, key_id: str, version: int | None = None) -> KeyInfo:
        return self._entry(key_id, version).info()

    def purposes(self, key_id: str, version: int | None = None) -> frozenset[Purpose]:
        """What the key's sealed policy allows it to be used for."""
        return frozenset(self._entry(key_id, version).policy.purposes)

    def current_infos(self, key_ids: Sequence[str]) -> list[KeyInfo]:
        """Latest loaded version of each key id (for binding into attestation reports)."""
        return [self._entry(key_id, None).info() for key_id in key_ids]

    def sign(
        self,
        key_id: str,
        messages: Sequence[bytes],
        *,
        tenant: str,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> list[bytes]:
        """Raw signing of caller-chosen messages: check the sealed policy, then sign; all or nothing.

        Keys whose policy lists a typed-only purpose (``TYPED_ONLY_PURPOSES``: randomness) are refused
        here; they sign only through ``sign_for_operation``, called by the enclave operation that built
        the message itself. Keys with purpose ``oracle`` stay raw-signable (the native Oracle node's peer
        submissions) but never over an oracle answer (``NSL-ORACLE-`` prefix) or a feed round
        (``NSL-FEED-``): those only ``oracle_fetch`` and ``feed_round`` build and sign.
        """
        entry = self._entry(key_id, version)
        typed = entry.policy.purposes & TYPED_ONLY_PURPOSES
        if typed:
            names = ", ".join(sorted(p.value for p in typed))
            raise PolicyDenied(
                f"keys with purpose {names} sign only through their enclave operation, not raw sign"
            )
        if Purpose.ORACLE in entry.policy.purposes and any(
            m.startswith(ORACLE_MESSAGE_PREFIX) for m in messages
        ):
            raise PolicyDenied("oracle answers are signed only by oracle_fetch, not raw sign")
        if Purpose.ORACLE in entry.policy.purposes and any(
            m.startswith(FEED_MESSAGE_PREFIX) for m in messages
        ):
            raise PolicyDenied("feed rounds are signed only by feed_round, not raw sign")
        return self.sign_for_operation(
            key_id,
            messages,
            tenant=tenant,
            purpose=purpose,
            fmt=fmt,
            version=version,
            network_magic=network_magic,
        )

    def sign_for_operation(
        self,
        key_id: str,
        messages: Sequence[bytes],
        *,
        tenant: str,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> list[bytes]:
        """Sign messages an enclave operation built itself (never a host-chosen message for a typed-only
        key): check the sealed policy, then sign each message; all or nothing."""
        if not 1 <= len(messages) <= MAX_SIGN_BATCH:
            raise InvalidKeyRequest(f"sign between 1 and {MAX_SIGN_BATCH} messages at a time")
        entry = self._entry(key_id, version)
        if entry.status is not KeyStatus.ACTIVE:
            raise KeyDisabled("key is disabled")
        if tenant != entry.policy.tenant:
            raise PolicyDenied("key belongs to another tenant")
        if purpose not in entry.policy.purposes:
            raise PolicyDenied(f"key policy does not allow purpose {purpose.value}")
        signing.check_format(entry.signer.kind, fmt, network_magic)
        self._take_rate(entry, len(messages))
        return [entry.signer.sign(message, fmt, network_magic) for message in messages]

    def rotate(self, key_id: str, tenant: str) -> SealedKey:
        """A new version with a fresh key, same kind and policy; it becomes the signing default."""
        latest = self._owned(key_id, tenant)
        if latest.status is not KeyStatus.ACTIVE:
            raise KeyDisabled("key is disabled")
        signer = signing.generate(latest.signer.kind)
        return self._add(_Entry(key_id, latest.version + 1, signer, latest.policy, KeyStatus.ACTIVE))

    def disable(self, key_id: str, tenant: str) -> list[SealedKey]:
        """Mark every loaded version disabled and return their re-sealed records."""
        self._owned(key_id, tenant)
        self._revocations.disable(key_id)
        sealed = []
        for entry in sorted(self._keys[key_id].values(), key=lambda e: e.version):
            entry.status = KeyStatus.DISABLED
            sealed.append(SealedKey(entry.info(), self._seal(entry)))
        return sealed

    def enable(self, key_id: str, tenant: str) -> list[SealedKey]:
        """Undo a disable (a cancelled destruction): every loaded version active again, re-sealed.

        The disable's time is forgotten, so a later ``destroy`` needs a new disable and a full grace.
        """
        self._owned(key_id, tenant)
        self._revocations.enable(key_id)
        sealed = []
        for entry in sorted(self._keys[key_id].values(), key=lambda e: e.version):
            entry.status = KeyStatus.ACTIVE
            sealed.append(SealedKey(entry.info(), self._seal(entry)))
        return sealed

    def destroy(self, key_id: str, tenant: str) -> None:
        """Forget every version and refuse the key's records from now on.

        Raises:
            DestructionRefused: the key was not disabled at least the grace period ago (``Revocations``).
        """
        self._owned(key_id, tenant)
        self._revocations.destroy(key_id)
        del self._keys[key_id]
        self._recent.pop(key_id, None)

    # internals ----------------------------------------------------------------------------------

    def _add(self, entry: _Entry) -> SealedKey:
        record = self._seal(entry)
        self._keys.setdefault(entry.key_id, {})[entry.version] = entry
        return SealedKey(entry.info(), record)

    def _seal(self, entry: _Entry) -> bytes:
        header = {
            "fmt": SEAL_FORMAT,
            "key_id": entry.key_id,
            "version": entry.version,
            "kind": entry.signer.kind.value,
            "tenant": entry.policy.tenant,
            "public_key": entry.signer.public_key.hex(),
        }
        payload = {
            "secret": entry.signer.secret_bytes().hex(),
            "policy": entry.policy.to_dict(),
            "status": entry.status.value,
        }
        return self._sealer.seal_record(header, canonical_json(payload))

    def _entry(self, key_id: str, version: int | None) -> _Entry:
        versions = self._keys.get(check_key_id(key_id))
        if not versions:
            raise KeyNotLoaded("key is not loaded")
        if version is None:
            return versions[max(versions)]
        entry = versions.get(version)
        if entry is None:
            raise KeyNotLoaded("key version is not loaded")
        return entry

    def _owned(self, key_id: str, tenant: str) -> _Entry:
        latest = self._entry(key_id, None)
        if tenant != latest.policy.tenant:
            raise PolicyDenied("key belongs to another tenant")
        return latest

    def _take_rate(self, entry: _Entry, count: int) -> None:
        limit = entry.policy.max_signs_per_minute
        if limit is None:
            return
        now = self._clock()
        recent = self._recent.setdefault(entry.key_id, deque())
        while recent and recent[0] <= now - _WINDOW_SECONDS:
            recent.popleft()
        if len(recent) + count > limit:
            raise SignRateExceeded(f"key allows {limit} signatures per minute")
        recent.extend([now] * count)
