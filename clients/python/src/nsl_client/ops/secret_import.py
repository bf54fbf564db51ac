"""Importing secrets from HashiCorp Vault, AWS Secrets Manager or Azure Key Vault, and the sources the
server remembers for re-sync. A source's credentials are the tenant's own; they go to the server in
the request (sealed by the enclave when remembered) and never come back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nsl_client.calls import Call, list_parser, parser, register
from nsl_client.models import SecretImport, SecretSource

LIST_SOURCES = register("list_secret_sources", "GET", "/api/v1/secrets/sources", SecretSource, many=True)
IMPORT = register("import_secrets", "POST", "/api/v1/secrets/import", SecretImport, creates=True)


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that were given: the server's defaults stand for the rest."""
    return {k: v for k, v in fields.items() if v is not None}


def vault_source(
    url: str,
    *,
    token: str | None = None,
    role_id: str | None = None,
    secret_id: str | None = None,
    approle_mount: str | None = None,
    mount_point: str | None = None,
    path_prefix: str | None = None,
    namespace: str | None = None,
    verify_tls: bool | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """A Vault KV v2 source, signed in with ``token`` or with AppRole ``role_id`` and ``secret_id``.
    Names are paths under ``path_prefix`` in ``mount_point``; a secret's value is its fields as JSON."""
    if (token is None) == (role_id is None and secret_id is None):
        raise ValueError("give token, or role_id and secret_id")
    if token is not None:
        auth: dict[str, Any] = {"token": token}
    else:
        auth = _given(role_id=role_id, secret_id=secret_id, mount_point=approle_mount)
    return {
        "provider": "vault",
        "url": url,
        "auth": auth,
        **_given(
            mount_point=mount_point,
            path_prefix=path_prefix,
            namespace=namespace,
            verify_tls=verify_tls,
            timeout_seconds=timeout_seconds,
        ),
    }


def aws_source(
    region: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    session_token: str | None = None,
    endpoint_url: str | None = None,
    name_prefix: str | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """An AWS Secrets Manager source; a name is looked up as ``name_prefix + name``."""
    credentials = _given(
        access_key_id=access_key_id, secret_access_key=secret_access_key, session_token=session_token
    )
    return {
        "provider": "aws",
        "region": region,
        "credentials": credentials,
        **_given(endpoint_url=endpoint_url, name_prefix=name_prefix, timeout_seconds=timeout_seconds),
    }


def azure_source(
    vault_url: str,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    *,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """An Azure Key Vault source, read with the tenant's own service principal."""
    return {
        "provider": "azure",
        "vault_url": vault_url,
        "tenant_id": tenant_id,
        "client_id": client_id,
        "client_secret": client_secret,
        **_given(timeout_seconds=timeout_seconds),
    }


def vault_field(path: str, field: str, name: str) -> dict[str, str]:
    """One field of the Vault KV v2 secret at ``path``, to be sealed as the secret ``name``."""
    return {"path": path, "field": field, "name": name}


def list_secret_sources() -> Call[list[SecretSource]]:
    """The import sources remembered for re-sync (names and providers, never credentials)."""
    return LIST_SOURCES.call(list_parser(SecretSource))


def import_secrets(
    names: Sequence[str] = (),
    *,
    fields: Sequence[Mapping[str, str]] = (),
    source: Mapping[str, Any] | None = None,
    remembered: str | None = None,
    remember_as: str | None = None,
    consumers: Sequence[str] = (),
    ttl_seconds: int | None = None,
    idempotency_key: str | None = None,
) -> Call[SecretImport]:
    """Read ``names`` from ``source`` (``vault_source``, ``aws_source``, ``azure_source``) or from a
    source ``remembered`` earlier, and seal each as a secret of that name (a new version when it
    exists). ``fields`` (``vault_field``, Vault only) seals single fields of Vault secrets under names of
    your choosing. ``remember_as`` keeps ``source`` for re-sync. One result per secret: one the source
    lacks does not stop the others."""
    body: dict[str, Any] = {
        "names": list(names),
        "fields": [dict(f) for f in fields],
        "source": dict(source) if source is not None else None,
        "remembered": remembered,
        "consumers": list(consumers),
        **_given(remember_as=remember_as, ttl_seconds=ttl_seconds),
    }
    return IMPORT.call(parser(SecretImport), json=body, idempotency_key=idempotency_key)
