"""Import-source configurations as JSON, to be sealed by the enclave when a tenant asks to keep one.

The JSON holds the credentials in the clear, so it only ever exists in memory on its way into
``Enclave.seal`` (and out of ``Enclave.unseal`` for a re-sync); the database stores the sealed blob.
"""

from __future__ import annotations

import json
from typing import Any, assert_never

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    AzureSourceConfig,
    SecretSourceConfig,
    VaultAppRoleAuth,
    VaultSourceConfig,
    VaultTokenAuth,
)


def provider_of(config: SecretSourceConfig) -> str:
    match config:
        case VaultSourceConfig():
            return "vault"
        case AwsSourceConfig():
            return "aws"
        case AzureSourceConfig():
            return "azure"
        case _:
            assert_never(config)


def _reveal(value: Secret[str] | None) -> str | None:
    return None if value is None else value.reveal()


def _secret(value: Any) -> Secret[str] | None:
    return None if value is None else Secret(str(value))


def encode_config(config: SecretSourceConfig) -> Secret[bytes]:
    data: dict[str, Any]
    match config:
        case VaultSourceConfig():
            auth: dict[str, Any] = (
                {"token": config.auth.token.reveal()}
                if isinstance(config.auth, VaultTokenAuth)
                else {
                    "role_id": config.auth.role_id.reveal(),
                    "secret_id": config.auth.secret_id.reveal(),
                    "mount_point": config.auth.mount_point,
                }
            )
            data = {
                "url": config.url,
                "auth": auth,
                "mount_point": config.mount_point,
                "path_prefix": config.path_prefix,
                "namespace": config.namespace,
                "verify_tls": config.verify_tls,
                "ca_file": config.ca_file,
                "timeout_seconds": config.timeout_seconds,
            }
        case AwsSourceConfig():
            credentials = config.credentials
            data = {
                "region": config.region,
                "endpoint_url": config.endpoint_url,
                "credentials": None
                if credentials is None
                else {
                    "access_key_id": credentials.access_key_id,
                    "secret_access_key": credentials.secret_access_key.reveal(),
                    "session_token": _reveal(credentials.session_token),
                },
                "name_prefix": config.name_prefix,
                "timeout_seconds": config.timeout_seconds,
                "max_attempts": config.max_attempts,
            }
        case AzureSourceConfig():
            data = {
                "vault_url": config.vault_url,
                "tenant_id": config.tenant_id,
                "client_id": config.client_id,
                "client_secret": _reveal(config.client_secret),
                "timeout_seconds": config.timeout_seconds,
                "max_retries": config.max_retries,
            }
        case _:
            assert_never(config)
    data["provider"] = provider_of(config)
    return Secret(json.dumps(data, sort_keys=True).encode())


def decode_config(blob: Secret[bytes]) -> SecretSourceConfig:
    try:
        data = json.loads(blob.reveal())
        provider = data.pop("provider")
        if provider == "vault":
            auth = data.pop("auth")
            data["auth"] = (
                VaultTokenAuth(Secret(auth["token"]))
                if "token" in auth
                else VaultAppRoleAuth(Secret(auth["role_id"]), Secret(auth["secret_id"]), auth["mount_point"])
            )
            return VaultSourceConfig(**data)
        if provider == "aws":
            credentials = data.pop("credentials")
            data["credentials"] = (
                None
                if credentials is None
                else AwsStaticCredentials(
                    credentials["access_key_id"],
                    Secret(credentials["secret_access_key"]),
                    _secret(credentials["session_token"]),
                )
            )
            return AwsSourceConfig(**data)
        if provider == "azure":
            data["client_secret"] = _secret(data.get("client_secret"))
            return AzureSourceConfig(**data)
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidInput("the remembered source configuration cannot be read")
