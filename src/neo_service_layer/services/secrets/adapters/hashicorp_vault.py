"""HashiCorp Vault KV v2 as a ``SecretSource``, through ``hvac`` (blocking; run in worker threads).

Names are paths relative to ``path_prefix`` inside the mount. A KV v2 secret is a map of fields:
``fetch("db/creds")`` returns the whole map as canonical JSON (sorted keys, no spaces, UTF-8);
``fetch("db/creds#password")`` returns one field (a string as UTF-8, anything else as JSON).
``list_names`` walks the folders below the prefix (``LIST /v1/<mount>/metadata/<path>``).

With AppRole, the adapter logs in on first use and once more when Vault answers 403 (expired token).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import hvac
import hvac.exceptions
import requests  # type: ignore[import-untyped,unused-ignore]

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.pinned_addresses import AddressPins, pinned_requests_adapter
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    SecretNotFoundInSource,
    SecretSourceDenied,
    SecretSourceError,
    SecretSourceUnavailable,
    SourcedSecret,
    VaultAppRoleAuth,
    VaultSourceConfig,
)

PROVIDER = "vault"
MAX_LISTED_NAMES = 10_000
"""``list_names`` stops walking folders after this many names (a guard against huge mounts)."""

_UNAVAILABLE = (
    hvac.exceptions.VaultDown,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.BadGateway,
    hvac.exceptions.RateLimitExceeded,
    hvac.exceptions.VaultNotInitialized,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.TooManyRedirects,
)


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def _translate(exc: Exception, operation: str, name: str | None) -> SecretSourceError:
    """Map an hvac / requests exception (by class) to a typed error; its text is never copied."""
    what = f"vault {operation}" + (f" of {name!r}" if name is not None else "")
    kind = type(exc).__name__
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return SecretNotFoundInSource(f"{what}: not found", provider=PROVIDER, name=name)
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return SecretSourceDenied(f"{what}: permission denied ({kind})", provider=PROVIDER, name=name)
    if isinstance(exc, _UNAVAILABLE):
        return SecretSourceUnavailable(f"{what}: Vault unavailable ({kind})", provider=PROVIDER, name=name)
    return SecretSourceError(f"{what}: failed ({kind})", provider=PROVIDER, name=name)


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _field_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class VaultSecretSource:
    """Reads a KV v2 mount of one Vault (one tenant's folder of it)."""

    def __init__(self, config: VaultSourceConfig, *, pins: AddressPins | None = None) -> None:
        """``pins``: the addresses the SSRF guard checked (default: each connection checked strictly)."""
        self._config = config
        token = "" if isinstance(config.auth, VaultAppRoleAuth) else config.auth.token.reveal()
        verify: bool | str = config.ca_file if config.verify_tls and config.ca_file else config.verify_tls
        # token="" (never None): hvac would otherwise read VAULT_TOKEN or ~/.vault-token. Our own
        # requests session: no proxies, .netrc or CA bundle from the environment (trust_env), no
        # client certificate from VAULT_CLIENT_CERT, and no redirects (a checked URL cannot bounce to
        # an address the SSRF guard refuses), and connections only to the addresses it checked.
        session = requests.Session()
        session.trust_env = False
        session.max_redirects = 0
        adapter = pinned_requests_adapter(pins if pins is not None else AddressPins(SourceUrlPolicy()))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._client: Any = hvac.Client(
            url=config.url,
            token=token,
            namespace=config.namespace,
            verify=verify,
            timeout=config.timeout_seconds,
            cert=None,
            allow_redirects=False,
            session=session,
        )
        self._login_lock = threading.Lock()
        self._logged_in = False

    @property
    def provider(self) -> str:
        return PROVIDER

    async def list_names(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._call, self._list_sync, prefix, "list", prefix)

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        return await asyncio.to_thread(self._call, self._fetch_sync, (name, version), "read", name)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.adapter.close)

    def _call[A, R](self, body: Callable[[A], R], arg: A, operation: str, name: str | None) -> R:
        """Log in when needed, run ``body``; with AppRole, log in again once after a 403."""
        try:
            self._ensure_login(force=False)
            try:
                return body(arg)
            except hvac.exceptions.Forbidden:
                if not isinstance(self._config.auth, VaultAppRoleAuth):
                    raise
            self._ensure_login(force=True)
            return body(arg)
        except SecretSourceError:
            raise
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise _translate(exc, operation, name) from None

    def _ensure_login(self, *, force: bool) -> None:
        auth = self._config.auth
        if not isinstance(auth, VaultAppRoleAuth):
            return
        with self._login_lock:
            if self._logged_in and not force:
                return
            try:
                self._client.auth.approle.login(
                    role_id=auth.role_id.reveal(),
                    secret_id=auth.secret_id.reveal(),
                    mount_point=auth.mount_point,
                )
            except hvac.exceptions.InvalidRequest:
                # Vault answers 400 to an unknown role id or a wrong / expired secret id
                raise SecretSourceDenied(
                    "vault AppRole login: credentials refused", provider=PROVIDER
                ) from None
            except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
                raise _translate(exc, "AppRole login", None) from None
            self._logged_in = True

    def _list_sync(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        names: list[str] = []
        pending = [folder]
        while pending and len(names) < MAX_LISTED_NAMES:
            current = pending.pop()
            try:
                response = self._client.secrets.kv.v2.list_secrets(
                    path=_join(self._config.path_prefix, current), mount_point=self._config.mount_point
                )
            except hvac.exceptions.InvalidPath:
                continue  # Vault answers 404 for a folder with nothing in it
            if not isinstance(response, dict):
                continue
            for key in response.get("data", {}).get("keys", []):
                relative = _join(current, key)
                if not relative.startswith(prefix) and not prefix.startswith(relative + "/"):
                    continue
                if key.endswith("/"):
                    pending.append(relative)
                elif relative.startswith(prefix):
                    names.append(relative)
        return sorted(names[:MAX_LISTED_NAMES])

    def _fetch_sync(self, request: tuple[str, str | None]) -> SourcedSecret:
        name, version = request
        path, _, field = name.partition("#")
        if version is not None and not version.isdigit():
            raise SecretNotFoundInSource(
                f"vault read of {name!r}: versions are positive integers", provider=PROVIDER, name=name
            )
        response = self._client.secrets.kv.v2.read_secret_version(
            path=_join(self._config.path_prefix, path),
            version=int(version) if version is not None else None,
            mount_point=self._config.mount_point,
            raise_on_deleted_version=True,
        )
        if not isinstance(response, dict):
            raise SecretSourceError(
                f"vault read of {name!r}: unexpected response", provider=PROVIDER, name=name
            )
        data = response.get("data") or {}
        fields = data.get("data")
        metadata = data.get("metadata") or {}
        if not isinstance(fields, dict):
            raise SecretNotFoundInSource(f"vault read of {name!r}: no data", provider=PROVIDER, name=name)
        if field:
            if field not in fields:
                raise SecretNotFoundInSource(
                    f"vault read of {name!r}: no such field", provider=PROVIDER, name=name
                )
            value = _field_bytes(fields[field])
        else:
            value = _field_bytes(fields)
        raw_version = metadata.get("version")
        return SourcedSecret(
            name=name,
            value=Secret(value),
            version=str(raw_version) if raw_version is not None else None,
            updated_at=_parse_time(metadata.get("created_time")),
        )
