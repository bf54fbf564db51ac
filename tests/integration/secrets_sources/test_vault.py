"""The Vault source drives the real ``hvac`` client against a local server speaking Vault's wire protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    SecretNotFoundInSource,
    SecretSource,
    SecretSourceDenied,
    SecretSourceError,
    SecretSourceUnavailable,
    VaultAppRoleAuth,
    VaultSourceConfig,
    VaultTokenAuth,
)
from tests.integration.secrets_sources.vault_fake import VaultState, running_vault

TOKEN = "hvs.reader-token-0001"
ROLE_ID = "role-7d1c"
SECRET_ID = "secret-id-e3b0c442"
PASSWORD = "s3cr3t-pa55word-for-db"
API_KEY = "ak-live-0123456789abcdef"

#: the operator's explicit allowance for the fake servers on 127.0.0.1 (NSL_SECRET_SOURCES_ALLOW_*)
LOOPBACK = SourceUrlPolicy.of(["127.0.0.1"], allow_http=True)


@pytest.fixture
def state() -> VaultState:
    state = VaultState()
    state.put("tenants/acme/db", {"username": "app", "password": "old-password-v1"})
    state.put("tenants/acme/db", {"username": "app", "password": PASSWORD})
    state.put("tenants/acme/api/payments", {"key": API_KEY, "limits": {"rps": 5}})
    state.put("tenants/other/db", {"password": "not-yours"})
    state.tokens[TOKEN] = ("tenants/acme/",)
    state.approles[ROLE_ID] = (SECRET_ID, ("tenants/acme/",))
    return state


@pytest.fixture
def vault_url(state: VaultState) -> Iterator[str]:
    with running_vault(state) as url:
        yield url


@pytest.fixture
async def token_source(vault_url: str) -> AsyncIterator[SecretSource]:
    config = VaultSourceConfig(
        url=vault_url,
        auth=VaultTokenAuth(token=Secret(TOKEN)),
        path_prefix="tenants/acme",
        namespace="team-a",
    )
    source = build_secret_source(config, LOOPBACK)
    yield source
    await source.aclose()


@pytest.fixture
async def approle_source(vault_url: str) -> AsyncIterator[SecretSource]:
    config = VaultSourceConfig(
        url=vault_url,
        auth=VaultAppRoleAuth(role_id=Secret(ROLE_ID), secret_id=Secret(SECRET_ID)),
        path_prefix="tenants/acme",
    )
    source = build_secret_source(config, LOOPBACK)
    yield source
    await source.aclose()


def _assert_hidden(text: str, *values: str) -> None:
    for value in values:
        assert value not in text


async def test_fetch_whole_secret_and_one_field(token_source: SecretSource, state: VaultState) -> None:
    whole = await token_source.fetch("db")
    field = await token_source.fetch("db#password")

    assert json.loads(whole.value.reveal()) == {"username": "app", "password": PASSWORD}
    assert whole.value.reveal() == b'{"password":"' + PASSWORD.encode() + b'","username":"app"}'
    assert field.value.reveal() == PASSWORD.encode()
    assert field.version == "2"
    assert field.updated_at is not None
    assert (field.updated_at.year, field.updated_at.month, field.updated_at.day) == (2024, 5, 2)
    _assert_hidden(repr(whole) + repr(field), PASSWORD)

    reads = [r for r in state.requests if r.method == "GET"]
    assert [r.path for r in reads] == ["/v1/secret/data/tenants/acme/db"] * 2
    assert all(r.headers["x-vault-token"] == TOKEN for r in reads)
    assert all(r.headers["x-vault-namespace"] == "team-a" for r in reads)


async def test_non_string_field_is_json(token_source: SecretSource) -> None:
    limits = await token_source.fetch("api/payments#limits")
    assert limits.value.reveal() == b'{"rps":5}'


async def test_fetch_older_version(token_source: SecretSource, state: VaultState) -> None:
    first = await token_source.fetch("db#password", version="1")

    assert first.value.reveal() == b"old-password-v1"
    assert first.version == "1"
    assert state.requests[-1].query == {"version": ["1"]}


async def test_list_names_walks_folders(token_source: SecretSource, state: VaultState) -> None:
    assert await token_source.list_names() == ["api/payments", "db"]
    assert await token_source.list_names("api/") == ["api/payments"]
    assert await token_source.list_names("d") == ["db"]
    assert await token_source.list_names("missing/") == []

    lists = [r for r in state.requests if r.method == "LIST"]
    assert lists[0].path == "/v1/secret/metadata/tenants/acme"
    assert all(r.headers["x-vault-token"] == TOKEN for r in lists)


async def test_approle_logs_in_first_and_sends_the_issued_token(
    approle_source: SecretSource, state: VaultState
) -> None:
    secret = await approle_source.fetch("api/payments#key")

    assert secret.value.reveal() == API_KEY.encode()
    login, read = state.requests
    assert (login.method, login.path) == ("POST", "/v1/auth/approle/login")
    assert login.body == {"role_id": ROLE_ID, "secret_id": SECRET_ID}
    assert "x-vault-token" not in login.headers
    assert read.path == "/v1/secret/data/tenants/acme/api/payments"
    assert read.headers["x-vault-token"] in state.tokens


async def test_approle_logs_in_again_when_the_token_is_revoked(
    approle_source: SecretSource, state: VaultState
) -> None:
    await approle_source.fetch("db")
    state.revoke_all_tokens()

    again = await approle_source.fetch("db#password")

    assert again.value.reveal() == PASSWORD.encode()
    logins = [r for r in state.requests if r.path == "/v1/auth/approle/login"]
    assert len(logins) == 2
    assert [r.method for r in state.requests] == ["POST", "GET", "GET", "POST", "GET"]


async def test_wrong_secret_id_is_denied(vault_url: str) -> None:
    config = VaultSourceConfig(
        url=vault_url, auth=VaultAppRoleAuth(role_id=Secret(ROLE_ID), secret_id=Secret("wrong-secret-id"))
    )
    source = build_secret_source(config, LOOPBACK)
    try:
        with pytest.raises(SecretSourceDenied) as caught:
            await source.fetch("tenants/acme/db")
    finally:
        await source.aclose()
    _assert_hidden(str(caught.value), "wrong-secret-id", ROLE_ID)


async def test_path_outside_policy_is_denied(vault_url: str) -> None:
    config = VaultSourceConfig(url=vault_url, auth=VaultTokenAuth(token=Secret(TOKEN)))
    source = build_secret_source(config, LOOPBACK)
    try:
        with pytest.raises(SecretSourceDenied) as caught:
            await source.fetch("tenants/other/db")
    finally:
        await source.aclose()
    assert caught.value.provider == "vault"
    assert caught.value.name == "tenants/other/db"
    _assert_hidden(str(caught.value), TOKEN, "not-yours")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_unknown_token_is_denied(vault_url: str) -> None:
    source = build_secret_source(
        VaultSourceConfig(url=vault_url, auth=VaultTokenAuth(token=Secret("hvs.bogus"))), LOOPBACK
    )
    try:
        with pytest.raises(SecretSourceDenied) as caught:
            await source.list_names()
    finally:
        await source.aclose()
    _assert_hidden(str(caught.value), "hvs.bogus")


@pytest.mark.parametrize("name", ["nope", "db#no-such-field"])
async def test_not_found(token_source: SecretSource, name: str) -> None:
    with pytest.raises(SecretNotFoundInSource) as caught:
        await token_source.fetch(name)
    assert caught.value.name == name


async def test_missing_version_and_deleted_version_are_not_found(
    token_source: SecretSource, state: VaultState
) -> None:
    with pytest.raises(SecretNotFoundInSource):
        await token_source.fetch("db", version="9")
    with pytest.raises(SecretNotFoundInSource):
        await token_source.fetch("db", version="latest")
    state.delete_latest("tenants/acme/db")
    with pytest.raises(SecretNotFoundInSource) as caught:
        await token_source.fetch("db")
    _assert_hidden(str(caught.value), PASSWORD)


async def test_unreachable_vault_is_unavailable() -> None:
    with running_vault(VaultState()) as url:
        pass  # the port is closed again when the block ends
    config = VaultSourceConfig(url=url, auth=VaultTokenAuth(token=Secret(TOKEN)), timeout_seconds=2)
    source = build_secret_source(config, LOOPBACK)
    try:
        with pytest.raises(SecretSourceUnavailable) as caught:
            await source.fetch("db")
    finally:
        await source.aclose()
    assert isinstance(caught.value, SecretSourceError)
    _assert_hidden(str(caught.value), TOKEN)


async def test_blocking_client_does_not_block_the_event_loop(
    token_source: SecretSource, state: VaultState
) -> None:
    state.hold = True
    task = asyncio.create_task(token_source.fetch("db#password"))

    # The loop keeps running while hvac waits for the held response in its worker thread.
    for _ in range(500):
        if state.arrived.is_set():
            break
        await asyncio.sleep(0.01)
    assert state.arrived.is_set()
    assert not task.done()
    state.release.set()

    assert (await task).value.reveal() == PASSWORD.encode()


async def test_sealed_vault_is_unavailable(token_source: SecretSource, state: VaultState) -> None:
    state.fail_with = 503

    with pytest.raises(SecretSourceUnavailable) as caught:
        await token_source.fetch("db")

    _assert_hidden(str(caught.value), TOKEN, PASSWORD)
