"""AWS Secrets Manager as a ``SecretSource``, through ``boto3`` (blocking; run in worker threads).

Names are relative to ``name_prefix``. A string secret comes back as its UTF-8 bytes, a binary secret
as is. Errors are mapped by botocore exception class, by the error ``Code`` field of the response (the
field botocore itself picks exception classes by) and by HTTP status, never by message text.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.pinned_addresses import AddressPins, pin_botocore_client
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    SecretNotFoundInSource,
    SecretSourceDenied,
    SecretSourceError,
    SecretSourceUnavailable,
    SourcedSecret,
)

PROVIDER = "aws"

_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "DecryptionFailure",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {"InternalServiceError", "InternalFailure", "ServiceUnavailable", "ThrottlingException"}
)
_CREDENTIAL_ERRORS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
    botocore.exceptions.TokenRetrievalError,
)
_CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def _translate(exc: Exception, operation: str, name: str | None) -> SecretSourceError:
    """Map a botocore exception to a typed error; the provider's message is never copied."""
    what = f"aws {operation}" + (f" of {name!r}" if name is not None else "")
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        detail = f"{code or 'error'}, HTTP {status}"
        if code in _NOT_FOUND_CODES or status == 404:
            return SecretNotFoundInSource(f"{what}: not found ({detail})", provider=PROVIDER, name=name)
        if code in _DENIED_CODES or status in (401, 403):
            return SecretSourceDenied(f"{what}: permission denied ({detail})", provider=PROVIDER, name=name)
        if code in _UNAVAILABLE_CODES or status == 429 or status >= 500:
            return SecretSourceUnavailable(f"{what}: unavailable ({detail})", provider=PROVIDER, name=name)
        return SecretSourceError(f"{what}: failed ({detail})", provider=PROVIDER, name=name)
    kind = type(exc).__name__
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return SecretSourceDenied(f"{what}: no usable credentials ({kind})", provider=PROVIDER, name=name)
    if isinstance(exc, _CONNECTION_ERRORS):
        return SecretSourceUnavailable(f"{what}: unreachable ({kind})", provider=PROVIDER, name=name)
    return SecretSourceError(f"{what}: failed ({kind})", provider=PROVIDER, name=name)


class AwsSecretSource:
    """Reads the secrets of one tenant (one name prefix) in one AWS region."""

    def __init__(self, config: AwsSourceConfig, *, pins: AddressPins | None = None) -> None:
        """``pins``: the addresses the SSRF guard checked (default: each connection checked strictly)."""
        self._config = config
        self._pins = pins if pins is not None else AddressPins(SourceUrlPolicy())
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def provider(self) -> str:
        return PROVIDER

    async def list_names(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._call, self._list_sync, prefix, "list", prefix)

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        return await asyncio.to_thread(self._call, self._fetch_sync, (name, version), "read", name)

    async def aclose(self) -> None:
        client = self._client
        if client is not None:
            await asyncio.to_thread(client.close)

    def _call[A, R](self, body: Callable[[A], R], arg: A, operation: str, name: str | None) -> R:
        try:
            return body(arg)
        except SecretSourceError:
            raise
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _translate(exc, operation, name) from None

    def _secrets_manager(self) -> Any:
        """The boto3 client, made on first use (loading its service model blocks for a moment)."""
        with self._client_lock:
            if self._client is None:
                config = self._config
                credentials = config.credentials
                if credentials is None:  # never boto3's default chain (env, profile, instance role)
                    raise SecretSourceDenied(
                        "aws: the source has no credentials of the tenant's own", provider=PROVIDER
                    )
                # explicit keys: botocore's credential chain (environment, ~/.aws, web identity,
                # container and instance metadata) is never consulted
                session = boto3.session.Session(
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key.reveal(),
                    aws_session_token=(
                        credentials.session_token.reveal() if credentials.session_token else None
                    ),
                    region_name=config.region,
                )
                self._client = session.client(
                    "secretsmanager",
                    endpoint_url=config.endpoint_url,
                    config=botocore.config.Config(
                        connect_timeout=config.timeout_seconds,
                        read_timeout=config.timeout_seconds,
                        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
                        # AWS_ENDPOINT_URL* and endpoint_url in ~/.aws/config are not used
                        ignore_configured_endpoint_urls=True,
                        proxies={},
                    ),
                )
                pin_botocore_client(self._client, self._pins)  # connections to checked addresses only
            return self._client

    def _list_sync(self, prefix: str) -> list[str]:
        full_prefix = self._config.name_prefix + prefix
        paginator = self._secrets_manager().get_paginator("list_secrets")
        pages = paginator.paginate(
            Filters=[{"Key": "name", "Values": [full_prefix]}] if full_prefix else [],
        )
        names: list[str] = []
        for page in pages:
            for entry in page.get("SecretList", []):
                full_name = str(entry.get("Name", ""))
                # the service's name filter is case-insensitive; ours is not
                if full_name.startswith(full_prefix):
                    names.append(full_name[len(self._config.name_prefix) :])
        return sorted(names)

    def _fetch_sync(self, request: tuple[str, str | None]) -> SourcedSecret:
        name, version = request
        arguments: dict[str, str] = {"SecretId": self._config.name_prefix + name}
        if version is not None:
            arguments["VersionId"] = version
        response = self._secrets_manager().get_secret_value(**arguments)
        if "SecretBinary" in response:
            value = bytes(response["SecretBinary"])
        elif "SecretString" in response:
            value = str(response["SecretString"]).encode()
        else:
            raise SecretSourceError(
                f"aws read of {name!r}: secret has no value", provider=PROVIDER, name=name
            )
        return SourcedSecret(
            name=name,
            value=Secret(value),
            version=response.get("VersionId"),
            updated_at=response.get("CreatedDate"),
        )
