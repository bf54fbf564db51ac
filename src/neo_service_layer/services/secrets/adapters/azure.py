"""Azure Key Vault as a ``SecretSource``, through the asynchronous ``azure.keyvault.secrets.aio`` client.

Key Vault secrets are text: a value comes back as its UTF-8 bytes. ``list_names`` skips disabled
secrets (reading them is refused). Errors are mapped by azure-core exception class and HTTP status code.
The default transport is aiohttp, connecting only to the addresses the SSRF guard checked
(``pinned_addresses``); tests pass their own ``transport`` and ``credential``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.identity import AzureAuthorityHosts, CredentialUnavailableError
from azure.identity.aio import ClientSecretCredential
from azure.keyvault.secrets.aio import SecretClient

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.pinned_addresses import AddressPins, PinnedAioHttpTransport
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    AzureSourceConfig,
    SecretNotFoundInSource,
    SecretSourceDenied,
    SecretSourceError,
    SecretSourceUnavailable,
    SourcedSecret,
)

PROVIDER = "azure"


def _translate(exc: Exception, operation: str, name: str | None) -> SecretSourceError:
    """Map an azure-core exception (class, then status code) to a typed error; its text is never copied."""
    what = f"azure {operation}" + (f" of {name!r}" if name is not None else "")
    kind = type(exc).__name__
    if isinstance(exc, CredentialUnavailableError):
        return SecretSourceDenied(f"{what}: no usable credentials ({kind})", provider=PROVIDER, name=name)
    if isinstance(exc, ResourceNotFoundError):
        return SecretNotFoundInSource(f"{what}: not found", provider=PROVIDER, name=name)
    if isinstance(exc, ClientAuthenticationError):
        return SecretSourceDenied(f"{what}: authentication refused ({kind})", provider=PROVIDER, name=name)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status in (401, 403):
            return SecretSourceDenied(
                f"{what}: permission denied (HTTP {status})", provider=PROVIDER, name=name
            )
        if status == 404:
            return SecretNotFoundInSource(f"{what}: not found", provider=PROVIDER, name=name)
        if status == 429 or status >= 500:
            return SecretSourceUnavailable(
                f"{what}: unavailable (HTTP {status})", provider=PROVIDER, name=name
            )
        return SecretSourceError(f"{what}: failed (HTTP {status})", provider=PROVIDER, name=name)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return SecretSourceUnavailable(f"{what}: unreachable ({kind})", provider=PROVIDER, name=name)
    return SecretSourceError(f"{what}: failed ({kind})", provider=PROVIDER, name=name)


def build_credential(config: AzureSourceConfig) -> AsyncTokenCredential:
    """The tenant's service principal; never a managed identity or any other platform identity.

    ``authority`` is explicit so that ``AZURE_AUTHORITY_HOST`` from the platform's environment is not used.
    """
    if config.client_secret is None or not config.tenant_id or not config.client_id:
        raise ValueError("an Azure source needs tenant_id, client_id and client_secret")
    return ClientSecretCredential(
        config.tenant_id,
        config.client_id,
        config.client_secret.reveal(),
        authority=AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
    )


class AzureSecretSource:
    """Reads the secrets of one Key Vault."""

    def __init__(
        self,
        config: AzureSourceConfig,
        *,
        credential: AsyncTokenCredential | None = None,
        transport: AsyncHttpTransport[HttpRequest, AsyncHttpResponse] | None = None,
        pins: AddressPins | None = None,
    ) -> None:
        """``pins``: the addresses the SSRF guard checked (default: each connection checked strictly);
        the default transport connects to those only."""
        self._owned_credential = credential is None
        self._credential = credential if credential is not None else build_credential(config)
        options: dict[str, object] = {
            "retry_total": config.max_retries,
            "connection_timeout": config.timeout_seconds,
            "read_timeout": config.timeout_seconds,
            "permit_redirects": False,  # a checked vault URL cannot bounce elsewhere
        }
        if transport is None:  # the client's timeouts apply only to a transport it makes: set them here
            transport = PinnedAioHttpTransport(
                pins if pins is not None else AddressPins(SourceUrlPolicy()),
                connection_timeout=config.timeout_seconds,
                read_timeout=config.timeout_seconds,
            )
        options["transport"] = transport
        self._client = SecretClient(vault_url=config.vault_url, credential=self._credential, **options)

    @property
    def provider(self) -> str:
        return PROVIDER

    async def list_names(self, prefix: str = "") -> list[str]:
        try:
            return sorted([name async for name in self._enabled_names(prefix)])
        except (AzureError, ValueError) as exc:
            raise _translate(exc, "list", prefix) from None

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        try:
            secret = await self._client.get_secret(name, version)
        except (AzureError, ValueError) as exc:
            raise _translate(exc, "read", name) from None
        if secret.value is None:
            raise SecretSourceError(
                f"azure read of {name!r}: secret has no value", provider=PROVIDER, name=name
            )
        return SourcedSecret(
            name=name,
            value=Secret(secret.value.encode()),
            version=secret.properties.version,
            updated_at=secret.properties.updated_on,
        )

    async def aclose(self) -> None:
        await self._client.close()
        if self._owned_credential:
            await self._credential.close()

    async def _enabled_names(self, prefix: str) -> AsyncIterator[str]:
        async for properties in self._client.list_properties_of_secrets():
            name = properties.name
            if name and name.startswith(prefix) and properties.enabled is not False:
                yield name
