"""The AWS source drives real boto3 against moto's Secrets Manager in server mode on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    SecretNotFoundInSource,
    SecretSource,
    SecretSourceUnavailable,
)

REGION = "eu-central-1"
ACCESS_KEY_ID = "AKIAEXAMPLETESTKEY01"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DB_PASSWORD = "pa55-word-for-the-db!"
SIGNING_KEY = bytes(range(256))

#: the operator's explicit allowance for the fake servers on 127.0.0.1 (NSL_SECRET_SOURCES_ALLOW_*)
LOOPBACK = SourceUrlPolicy.of(["127.0.0.1"], allow_http=True)


def _credentials() -> AwsStaticCredentials:
    return AwsStaticCredentials(access_key_id=ACCESS_KEY_ID, secret_access_key=Secret(SECRET_ACCESS_KEY))


@pytest.fixture
def admin(aws_endpoint: str) -> Any:
    """A plain boto3 client that plays the tenant creating secrets in AWS."""
    return boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=aws_endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture
async def source(aws_endpoint: str) -> AsyncIterator[SecretSource]:
    config = AwsSourceConfig(
        region=REGION, endpoint_url=aws_endpoint, credentials=_credentials(), name_prefix="acme/"
    )
    source = build_secret_source(config, LOOPBACK)
    yield source
    await source.aclose()


@contextmanager
def socket_closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _assert_hidden(text: str) -> None:
    for value in (DB_PASSWORD, SECRET_ACCESS_KEY, repr(SIGNING_KEY)):
        assert value not in text


async def test_string_secret(source: SecretSource, admin: Any) -> None:
    created = admin.create_secret(Name="acme/db/password", SecretString=DB_PASSWORD)

    secret = await source.fetch("db/password")

    assert secret.name == "db/password"
    assert secret.value.reveal() == DB_PASSWORD.encode()
    assert secret.version == created["VersionId"]
    assert secret.updated_at is not None
    assert secret.updated_at.tzinfo is not None
    _assert_hidden(repr(secret))


async def test_binary_secret(source: SecretSource, admin: Any) -> None:
    admin.create_secret(Name="acme/signing-key", SecretBinary=SIGNING_KEY)

    secret = await source.fetch("signing-key")

    assert secret.value.reveal() == SIGNING_KEY
    _assert_hidden(repr(secret))


async def test_versions(source: SecretSource, admin: Any) -> None:
    first = admin.create_secret(Name="acme/api-key", SecretString="key-version-one")
    second = admin.put_secret_value(SecretId="acme/api-key", SecretString="key-version-two")

    latest = await source.fetch("api-key")
    older = await source.fetch("api-key", version=first["VersionId"])

    assert latest.value.reveal() == b"key-version-two"
    assert latest.version == second["VersionId"]
    assert older.value.reveal() == b"key-version-one"
    assert older.version == first["VersionId"]
    assert first["VersionId"] != second["VersionId"]


async def test_list_names_under_the_tenant_prefix(source: SecretSource, admin: Any) -> None:
    for name in ("acme/db/password", "acme/db/user", "acme/api-key", "other/db/password", "ACME/shout"):
        admin.create_secret(Name=name, SecretString="x")

    assert await source.list_names() == ["api-key", "db/password", "db/user"]
    assert await source.list_names("db/") == ["db/password", "db/user"]
    assert await source.list_names("nothing") == []


async def test_not_found(source: SecretSource, admin: Any) -> None:
    admin.create_secret(Name="other/db/password", SecretString=DB_PASSWORD)

    with pytest.raises(SecretNotFoundInSource) as caught:
        await source.fetch("db/password")

    assert caught.value.provider == "aws"
    assert caught.value.name == "db/password"
    _assert_hidden(str(caught.value))


async def test_unknown_version_is_not_found(source: SecretSource, admin: Any) -> None:
    admin.create_secret(Name="acme/api-key", SecretString=DB_PASSWORD)

    with pytest.raises(SecretNotFoundInSource) as caught:
        await source.fetch("api-key", version="00000000-0000-4000-8000-000000000000")

    _assert_hidden(str(caught.value))


async def test_unreachable_endpoint_is_unavailable() -> None:
    with socket_closed_port() as port:
        config = AwsSourceConfig(
            region=REGION,
            endpoint_url=f"http://127.0.0.1:{port}",
            credentials=_credentials(),
            timeout_seconds=2,
            max_attempts=1,
        )
        source = build_secret_source(config, LOOPBACK)
        try:
            with pytest.raises(SecretSourceUnavailable) as caught:
                await source.fetch("db/password")
        finally:
            await source.aclose()
    _assert_hidden(str(caught.value))
