"""The Azure source drives the real ``azure.keyvault.secrets.aio`` client over a replaced transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from azure.identity.aio import ClientSecretCredential

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.azure import AzureSecretSource, build_credential
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.ports import (
    AzureSourceConfig,
    SecretNotFoundInSource,
    SecretSourceDenied,
    SecretSourceUnavailable,
)
from tests.integration.secrets_sources.azure_fake import (
    TENANT_ID,
    FakeKeyVault,
    FakeKeyVaultTransport,
    FixedTokenCredential,
    bearer_headers,
    unique_vault_url,
)

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-access-token"
CONNECTION_STRING = "Server=db;User=app;Password=azure-db-pa55!"
CLIENT_SECRET = "client~secret~value~0123456789"


@pytest.fixture
def vault() -> FakeKeyVault:
    vault = FakeKeyVault(vault_url=unique_vault_url(), token=TOKEN)
    vault.set_secret("db-connection", "Server=db;User=app;Password=old-one")
    vault.set_secret("db-connection", CONNECTION_STRING)
    vault.set_secret("api-key", "ak-azure-0001")
    vault.set_secret("api-key-old", "retired", enabled=False)
    vault.set_secret("cert-thumbprint", "3f2a")
    vault.set_secret("payments-token", "pt-0001")
    return vault


@pytest.fixture
def credential() -> FixedTokenCredential:
    return FixedTokenCredential(token=TOKEN)


@pytest.fixture
async def source(vault: FakeKeyVault, credential: FixedTokenCredential) -> AsyncIterator[AzureSecretSource]:
    config = AzureSourceConfig(vault_url=vault.vault_url, max_retries=0)
    source = AzureSecretSource(config, credential=credential, transport=FakeKeyVaultTransport(vault))
    yield source
    await source.aclose()


async def test_fetch_after_the_bearer_challenge(
    source: AzureSecretSource, vault: FakeKeyVault, credential: FixedTokenCredential
) -> None:
    secret = await source.fetch("db-connection")

    assert secret.value.reveal() == CONNECTION_STRING.encode()
    assert secret.version == vault.secrets["db-connection"][-1].version
    assert secret.updated_at == datetime.fromtimestamp(1_700_000_060, UTC)
    assert CONNECTION_STRING not in repr(secret)

    challenged, authorized = vault.requests
    assert "Authorization" not in challenged.headers
    assert authorized.headers["Authorization"] == f"Bearer {TOKEN}"
    # the SDK asks for ".../secrets/{name}/" (empty version segment) for the latest version
    assert authorized.url.startswith(f"{vault.vault_url}/secrets/db-connection/?api-version=")
    assert credential.calls == [(("https://vault.azure.net/.default",), TENANT_ID)]


async def test_token_is_reused(
    source: AzureSecretSource, vault: FakeKeyVault, credential: FixedTokenCredential
) -> None:
    await source.fetch("api-key")
    await source.fetch("payments-token")

    assert list(bearer_headers(vault.requests)) == [None, f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    assert len(credential.calls) == 1


async def test_fetch_older_version(source: AzureSecretSource, vault: FakeKeyVault) -> None:
    older = vault.secrets["db-connection"][0].version

    secret = await source.fetch("db-connection", version=older)

    assert secret.value.reveal() == b"Server=db;User=app;Password=old-one"
    assert secret.version == older
    assert vault.requests[-1].url.startswith(f"{vault.vault_url}/secrets/db-connection/{older}?")


async def test_list_follows_next_links_and_skips_disabled(
    source: AzureSecretSource, vault: FakeKeyVault
) -> None:
    assert await source.list_names() == ["api-key", "cert-thumbprint", "db-connection", "payments-token"]
    assert await source.list_names("api") == ["api-key"]

    pages = [r.url for r in vault.requests if "/secrets?" in r.url and "Authorization" in r.headers]
    assert any("$skiptoken=2" in url for url in pages)
    assert any("$skiptoken=4" in url for url in pages)


async def test_not_found(source: AzureSecretSource) -> None:
    with pytest.raises(SecretNotFoundInSource) as caught:
        await source.fetch("no-such-secret")
    assert caught.value.provider == "azure"
    assert caught.value.name == "no-such-secret"


async def test_forbidden(source: AzureSecretSource, vault: FakeKeyVault) -> None:
    vault.forbidden.add("db-connection")

    with pytest.raises(SecretSourceDenied) as caught:
        await source.fetch("db-connection")

    assert CONNECTION_STRING not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_token_the_vault_refuses_is_denied(vault: FakeKeyVault) -> None:
    config = AzureSourceConfig(vault_url=vault.vault_url, max_retries=0)
    wrong = FixedTokenCredential(token="not-the-right-token")
    source = AzureSecretSource(config, credential=wrong, transport=FakeKeyVaultTransport(vault))
    try:
        with pytest.raises(SecretSourceDenied) as caught:
            await source.fetch("api-key")
    finally:
        await source.aclose()
    assert "not-the-right-token" not in str(caught.value)
    assert not wrong.closed  # a credential passed in belongs to the caller


async def test_aclose_closes_the_transport(vault: FakeKeyVault, credential: FixedTokenCredential) -> None:
    transport = FakeKeyVaultTransport(vault)
    source = AzureSecretSource(
        AzureSourceConfig(vault_url=vault.vault_url), credential=credential, transport=transport
    )
    await source.fetch("api-key")

    await source.aclose()

    assert transport.closed >= 1


async def test_credentials_built_from_config() -> None:
    with_secret = AzureSourceConfig(
        vault_url=unique_vault_url(),
        tenant_id=TENANT_ID,
        client_id="app-id",
        client_secret=Secret(CLIENT_SECRET),
    )

    principal = build_credential(with_secret)
    try:
        assert isinstance(principal, ClientSecretCredential)
    finally:
        await principal.close()
    assert CLIENT_SECRET not in repr(with_secret)

    source = build_secret_source(with_secret, resolve=lambda host, port: ["20.1.2.3"])
    assert isinstance(source, AzureSecretSource)
    await source.aclose()

    # never a managed identity or another identity of the platform
    for partial_config in (
        AzureSourceConfig(vault_url=unique_vault_url(), client_id="identity-id"),
        AzureSourceConfig(vault_url=unique_vault_url(), client_secret=Secret(CLIENT_SECRET)),
    ):
        with pytest.raises(ValueError, match="tenant_id, client_id and client_secret"):
            build_credential(partial_config)
        with pytest.raises(InvalidInput, match=r"source\.(tenant_id|client_secret)"):
            build_secret_source(partial_config, resolve=lambda host, port: ["20.1.2.3"])


async def test_service_unavailable(source: AzureSecretSource, vault: FakeKeyVault) -> None:
    vault.fail_with = 503

    with pytest.raises(SecretSourceUnavailable) as caught:
        await source.list_names()

    assert "HTTP 503" in str(caught.value)
