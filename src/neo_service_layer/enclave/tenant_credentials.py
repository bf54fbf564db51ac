"""Tenant credentials the enclave checks itself: API keys it tags, tenants that require them, revocations.

Why: the ``api`` client's token lets the API process ask for any tenant's key operations, and the
enclave otherwise trusts the tenant name it passes. A tenant that switches on *enclave-checked
credentials* makes the enclave refuse the api's key operations for it (``wire.credentials``
``OPERATION_SCOPES``) unless they carry one of the tenant's own API keys, issued here, unrevoked,
unexpired and holding the operation's scope. A compromised API process without such a key cannot use
that tenant's keys.

The first part of a key's secret is its issue time (enclave clock, milliseconds) and 16 random bytes;
switching on with ``fresh_start`` refuses every key of the tenant issued before that moment except the
presenting one, so a key minted while the tenant did not enforce (when the API could already use its
keys) does not outlive the switch.

State (sealed, ``credentials.sealed`` in the enclave's state directory): the credential key (random,
never leaves the enclave), the enforcing tenants with their fresh-start time and kept key, and the
revoked API key ids. Like ``revocations``, a
rollback or deletion of this file by someone who can write the enclave's data directory is not
detected (no hardware monotonic counter).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import struct
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.credentials import (
    APIKEYS_ADMIN,
    COMPUTE_WRITE,
    KEYS_SIGN,
    MAX_SCOPE_LENGTH,
    MAX_SCOPES,
    OPERATION_SCOPES,
    ORACLE_REQUEST,
    TAG_DOMAIN,
    TENANTS_ADMIN,
    ApiKeyCredential,
)
from neo_service_layer.enclave.wire.encoding import canonical_json
from neo_service_layer.enclave.wire.keys import (
    CredentialRequired,
    InvalidKeyRequest,
    OperationNotAllowed,
    SealedDataInvalid,
    check_key_id,
    check_name,
)
from neo_service_layer.enclave.wire.protocol import Args

_CONTEXT = {"name": "tenant-credentials"}
_RANDOM_BYTES = 16
_ISSUED = struct.Struct(">Q")  # issue time, milliseconds of the enclave's clock
_RANDOM_CHARS = 32  # base64url of the issue time and the random bytes (24 bytes: no padding)
_TAG_CHARS = 43  # unpadded base64url of 32 bytes
_API_KEY_PREFIX = "nsl_"
#: the client whose operations are checked (the worker and the CLI act for the platform, not a tenant)
CHECKED_CLIENT = "api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_scopes(scopes: Iterable[object]) -> tuple[str, ...]:
    listed = list(scopes)
    if len(listed) > MAX_SCOPES or not all(
        isinstance(s, str) and 0 < len(s) <= MAX_SCOPE_LENGTH for s in listed
    ):
        raise InvalidKeyRequest(f"scopes: at most {MAX_SCOPES} names of 1-{MAX_SCOPE_LENGTH} characters")
    return tuple(sorted({str(s) for s in listed}))


def _check_prefix(prefix: str) -> str:
    if not (prefix.isascii() and prefix.isalnum() and 0 < len(prefix) <= 32):
        raise InvalidKeyRequest("prefix: 1-32 letters and digits")
    return prefix


class TenantCredentials:
    """The credential key, the enforcing tenants and the revoked API keys; persisted when ``path`` is set."""

    def __init__(self, sealer: Sealer, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self._sealer = sealer
        self._path = path
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._enforcing: set[str] = set()
        #: tenant -> (fresh-start time in ms, the key that made it): older keys are refused
        self._fresh_start: dict[str, tuple[int, str]] = {}
        self._revoked: set[str] = set()
        if path is not None and path.exists():
            data = json.loads(sealer.unseal(SealUse.ENCLAVE_STATE, _CONTEXT, path.read_bytes()))
            if not isinstance(data, dict) or not isinstance(data.get("key"), str):
                raise SealedDataInvalid("enclave credential state is malformed")
            self._key = bytes.fromhex(data["key"])
            self._enforcing = set(data.get("enforcing", []))
            self._fresh_start = {t: (int(ms), str(k)) for t, (ms, k) in data.get("fresh_start", {}).items()}
            self._revoked = set(data.get("revoked", []))
        elif path is not None:
            self._save()

    def is_enforcing(self, tenant: str) -> bool:
        return tenant in self._enforcing

    # operations -----------------------------------------------------------------------------------

    def issue(
        self,
        *,
        tenant: str,
        key_id: str,
        prefix: str,
        scopes: Iterable[object],
        expires_at: int | None,
        presented: object,
    ) -> str:
        """The secret part of a new API key (random part and tag) for these claims.

        For an enforcing tenant the caller must present a key of that tenant with ``apikeys:admin``
        whose scopes cover the new key's (so a host cannot mint itself a key for such a tenant).
        """
        tenant, key_id = check_name(tenant, "tenant"), check_key_id(key_id)
        wanted = _check_scopes(scopes)
        if tenant in self._enforcing:
            holder = self.verify(presented, tenant, APIKEYS_ADMIN)
            missing = set(wanted) - set(holder.scopes)
            if missing:
                raise CredentialRequired(f"the presenting key lacks {', '.join(sorted(missing))}")
        random_part = _ISSUED.pack(self._millis()) + secrets.token_bytes(_RANDOM_BYTES)
        tag = self._tag(tenant, key_id, _check_prefix(prefix), wanted, expires_at, random_part)
        return _b64(random_part) + _b64(tag)

    def revoke(self, key_id: str) -> None:
        """Refuse this API key from now on (anyone may ask: it only makes things stricter)."""
        self._revoked.add(check_key_id(key_id))
        self._save()

    def set_enforcing(
        self, tenant: str, enabled: bool, presented: object, *, fresh_start: bool = False
    ) -> None:
        """Switch enforcement on or off; either way with a key of the tenant holding ``tenants:admin``
        (switching on with one proves the tenant can still switch it off). ``fresh_start`` (switching
        on): every key of the tenant issued before now is refused, except the presenting one."""
        tenant = check_name(tenant, "tenant")
        holder = self.verify(presented, tenant, TENANTS_ADMIN)
        if enabled:
            self._enforcing.add(tenant)
            if fresh_start:
                self._fresh_start[tenant] = (self._millis(), holder.key_id)
        else:
            self._enforcing.discard(tenant)
            self._fresh_start.pop(tenant, None)
        self._save()

    def check_operation(self, client: str | None, op: str, args: Args) -> None:
        """Refuse (``CredentialRequired``) an api operation on an enforcing tenant's keys without its key.

        A single-token development enclave (client ``None`` or ``legacy``) cannot tell the api from the
        worker, so it refuses to switch enforcement on rather than claim a check it does not make.
        """
        if op == "tenant_credentials" and client != CHECKED_CLIENT and args.raw("enabled") is True:
            raise OperationNotAllowed(
                "enclave-checked credentials need per-client tokens (NSL_ENCLAVE_CLIENTS): with one "
                "shared token the enclave cannot tell the API process from the others"
            )
        if client == CHECKED_CLIENT and op == "oracle_fetch":
            self._check_oracle_fetch(args)
            return
        if client == CHECKED_CLIENT and op == "compute_run":
            # the function's code sees the secrets' values and its result goes back to the host: an
            # enforcing tenant's secrets reach a run only with one of its own keys
            tenant = args.raw("tenant")
            if isinstance(tenant, str) and tenant in self._enforcing and args.raw("secrets"):
                self.verify(args.raw("credential"), tenant, COMPUTE_WRITE)
            return
        scope = OPERATION_SCOPES.get(op)
        if client != CHECKED_CLIENT or scope is None:
            return
        tenant = args.raw("tenant")
        if op == "create_key":
            policy = args.raw("policy")
            tenant = policy.get("tenant") if isinstance(policy, dict) else None
        if isinstance(tenant, str) and tenant in self._enforcing:
            self.verify(args.raw("credential"), tenant, scope)

    def _check_oracle_fetch(self, args: Args) -> None:
        """The api's off-chain ``oracle_fetch``: an enforcing tenant's secrets need its key with
        ``oracle:request``; signing with an enforcing tenant's own key needs ``keys:sign`` (the API's
        routes sign with the platform oracle key only)."""
        key_tenant, tenant = args.raw("key_tenant"), args.raw("tenant")
        if isinstance(key_tenant, str) and key_tenant in self._enforcing:
            self.verify(args.raw("credential"), key_tenant, KEYS_SIGN)
        if isinstance(tenant, str) and tenant in self._enforcing and args.raw("secrets"):
            self.verify(args.raw("credential"), tenant, ORACLE_REQUEST)

    def verify(self, presented: object, tenant: str, scope: str) -> ApiKeyCredential:
        """The presented credential, if it is a key of ``tenant`` issued here, valid now, with ``scope``."""
        if presented is None:
            raise CredentialRequired(
                f"tenant {tenant} requires its own API key for this operation (enclave-checked "
                "credentials); none was presented"
            )
        credential = ApiKeyCredential.from_wire(presented)
        if credential.tenant != tenant:
            raise CredentialRequired("the API key belongs to another tenant")
        random_part, tag = self._split(credential.api_key)
        prefix = credential.api_key[len(_API_KEY_PREFIX) :].partition("_")[0]
        try:
            expected = self._tag(
                tenant,
                credential.key_id,
                _check_prefix(prefix),
                _check_scopes(credential.scopes),
                credential.expires_at,
                random_part,
            )
        except InvalidKeyRequest:
            raise CredentialRequired("the API key's claims are malformed") from None
        if not hmac.compare_digest(expected, tag):
            raise CredentialRequired("the API key was not issued by this enclave for these claims")
        if credential.key_id in self._revoked:
            raise CredentialRequired("the API key is revoked")
        since, kept = self._fresh_start.get(tenant, (0, ""))
        if _ISSUED.unpack(random_part[: _ISSUED.size])[0] < since and credential.key_id != kept:
            raise CredentialRequired("the API key was issued before the tenant's fresh start")
        if credential.expires_at is not None and self._clock() >= credential.expires_at:
            raise CredentialRequired("the API key has expired")
        if scope not in credential.scopes:
            raise CredentialRequired(f"the API key lacks the scope {scope}")
        return credential

    # the RPC operations (``api`` client) --------------------------------------------------------------

    def issue_op(self, args: Args) -> dict[str, object]:
        """``issue_api_key``: tenant, key_id, prefix, scopes, expires_at (Unix seconds or null), and
        ``credential`` for an enforcing tenant -> ``{"secret": ...}`` (the part after ``nsl_<prefix>_``)."""
        secret = self.issue(
            tenant=args.text("tenant"),
            key_id=args.text("key_id"),
            prefix=args.text("prefix"),
            scopes=args.text_list("scopes"),
            expires_at=args.opt_integer("expires_at"),
            presented=args.raw("credential"),
        )
        return {"secret": secret}

    def revoke_op(self, args: Args) -> dict[str, object]:
        """``revoke_api_key``: key_id -> ``{}``."""
        self.revoke(args.text("key_id"))
        return {}

    def settings_op(self, args: Args) -> dict[str, object]:
        """``tenant_credentials``: tenant, ``enabled`` (true/false to switch, with ``credential``; absent
        to read), ``fresh_start`` (optional, with true) -> ``{"tenant": ..., "enabled": ...}``."""
        tenant = check_name(args.text("tenant"), "tenant")
        enabled, fresh_start = args.raw("enabled"), args.raw("fresh_start")
        if not isinstance(fresh_start, bool | None):
            raise InvalidKeyRequest("fresh_start must be true, false or absent")
        if enabled is not None:
            if not isinstance(enabled, bool):
                raise InvalidKeyRequest("enabled must be true, false or absent")
            presented = args.raw("credential")
            self.set_enforcing(tenant, enabled, presented, fresh_start=bool(fresh_start))
        return {"tenant": tenant, "enabled": self.is_enforcing(tenant)}

    # internals ------------------------------------------------------------------------------------

    def _millis(self) -> int:
        return int(self._clock() * 1000)

    def _split(self, api_key: str) -> tuple[bytes, bytes]:
        if not api_key.startswith(_API_KEY_PREFIX):
            raise CredentialRequired("not an API key")
        secret = api_key[len(_API_KEY_PREFIX) :].partition("_")[2]
        if len(secret) != _RANDOM_CHARS + _TAG_CHARS:
            raise CredentialRequired("not an API key issued by the enclave")
        try:
            return _unb64(secret[:_RANDOM_CHARS]), _unb64(secret[_RANDOM_CHARS:])
        except (binascii.Error, ValueError):
            raise CredentialRequired("not an API key issued by the enclave") from None

    def _tag(
        self,
        tenant: str,
        key_id: str,
        prefix: str,
        scopes: tuple[str, ...],
        expires_at: int | None,
        random_part: bytes,
    ) -> bytes:
        claims = {
            "domain": TAG_DOMAIN,
            "tenant": tenant,
            "key_id": key_id,
            "prefix": prefix,
            "scopes": list(scopes),
            "expires_at": expires_at,
            "random": _b64(random_part),
        }
        return hmac.new(self._key, canonical_json(claims), hashlib.sha256).digest()

    def _save(self) -> None:
        if self._path is None:
            return
        body = {
            "key": self._key.hex(),
            "enforcing": sorted(self._enforcing),
            "fresh_start": {t: list(v) for t, v in sorted(self._fresh_start.items())},
            "revoked": sorted(self._revoked),
        }
        blob = self._sealer.seal(SealUse.ENCLAVE_STATE, _CONTEXT, canonical_json(body))
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
