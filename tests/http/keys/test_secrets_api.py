"""The secrets API through the app with a real enclave: values sealed at write time, never returned."""

from __future__ import annotations

import base64
import socket
from typing import Any

import boto3
import pytest

from neo_service_layer.enclave.wire.secret_labels import open_payload
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditQuery
from neo_service_layer.services.secrets.rules import Consumer, ConsumerNotAllowed
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService
from tests.http.keys.conftest import Api
from tests.integration.secrets_sources.conftest import aws_endpoint, moto_endpoint  # noqa: F401

VALUE = "s3cr3t-value-for-the-oracle"
REGION = "eu-central-1"
AWS_KEY_ID = "AKIAEXAMPLETESTKEY01"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


async def test_put_list_versions_rotate_delete(api: Api) -> None:
    acme = await api.tenant("acme")
    put = await acme.call(
        "PUT", "/api/v1/secrets/db/password", "secrets:write", json={"value": VALUE, "consumers": ["oracle"]}
    )
    assert put.status_code == 201, put.text
    assert put.json()["current_version"] == 1
    assert put.json()["consumers"] == ["oracle"]
    assert VALUE not in put.text
    listed = await acme.call("GET", "/api/v1/secrets", "secrets:read")
    assert [s["name"] for s in listed.json()] == ["db/password"]
    rotated = await acme.call(
        "POST",
        "/api/v1/secrets/db/password/rotate",
        "secrets:write",
        json={"value": "next-value", "ttl_seconds": 60},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["current_version"] == 2
    assert rotated.json()["expires_at"] is not None
    versions = await acme.call("GET", "/api/v1/secrets/db/password/versions", "secrets:read")
    assert [(v["version"], v["size"]) for v in versions.json()] == [(1, len(VALUE)), (2, len("next-value"))]
    one = await acme.call("GET", "/api/v1/secrets/db/password", "secrets:read")
    assert set(one.json()) >= {"name", "consumers", "current_version"}
    assert "value" not in one.json()

    # later services get the sealed blob as an allowed consumer; only the enclave opens it
    label, blob = await api.container.parts_of("secrets", SecretsService).sealed_for_consumer(
        acme.id, "db/password", Consumer.ORACLE
    )
    assert label == "secret:db/password:v2"
    assert open_payload(await api.container.enclave.unseal(acme.id, label, blob)) == ((), b"next-value")
    assert b"next-value" not in blob
    with pytest.raises(ConsumerNotAllowed):
        await api.container.parts_of("secrets", SecretsService).sealed_for_consumer(
            acme.id, "db/password", Consumer.COMPUTE
        )

    again = await acme.call("PUT", "/api/v1/secrets/db/password", "secrets:write", json={"value": "v3"})
    assert again.status_code == 200
    assert again.json()["current_version"] == 3
    assert again.json()["consumers"] == []

    deleted = await acme.call("DELETE", "/api/v1/secrets/db/password", "secrets:write")
    assert deleted.status_code == 204
    assert (await acme.call("GET", "/api/v1/secrets/db/password", "secrets:read")).status_code == 404
    assert (await acme.call("DELETE", "/api/v1/secrets/db/password", "secrets:write")).status_code == 404

    audit = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id))
    actions = [e.action for e in audit.entries]
    assert actions.count("secret.write") == 3
    assert "secret.delete" in actions
    assert actions.count(Actions.SECRET_ACCESS) == 2
    assert all(VALUE not in str(e.details) for e in audit.entries)


async def test_scopes_tenants_and_bad_input(api: Api) -> None:
    acme = await api.tenant("acme")
    evil = await api.tenant("evil")
    await acme.call("PUT", "/api/v1/secrets/api-token", "secrets:write", json={"value": VALUE})
    assert (
        await acme.call("PUT", "/api/v1/secrets/x", "secrets:read", json={"value": "v"})
    ).status_code == 403
    assert (await acme.call("GET", "/api/v1/secrets", "keys:read")).status_code == 403
    assert (await evil.call("GET", "/api/v1/secrets/api-token", "secrets:read")).status_code == 404
    assert (await evil.call("GET", "/api/v1/secrets", "secrets:read")).json() == []
    bad = await acme.call(
        "PUT", "/api/v1/secrets/x", "secrets:write", json={"value": "***", "encoding": "base64"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.value"
    assert "***" not in bad.text
    colon = await acme.call("PUT", "/api/v1/secrets/a:b", "secrets:write", json={"value": "v"})
    assert colon.status_code == 422
    binary = await acme.call(
        "PUT",
        "/api/v1/secrets/bin",
        "secrets:write",
        json={"value": base64.b64encode(b"\x00\xff").decode(), "encoding": "base64"},
    )
    assert binary.json()["current_version"] == 1
    assert binary.json()["consumers"] == []


def _aws_source(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "aws",
        "region": REGION,
        "endpoint_url": endpoint,
        "credentials": {"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET},
        "name_prefix": "acme/",
        **extra,
    }


async def test_import_from_aws_secrets_manager(api: Api, aws_endpoint: str) -> None:  # noqa: F811
    admin = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=aws_endpoint,
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    )
    admin.create_secret(Name="acme/db-password", SecretString="imported-db-pa55")
    admin.create_secret(Name="acme/api-key", SecretBinary=b"\x01\x02binary")
    acme = await api.tenant("acme")
    body = {
        "source": _aws_source(aws_endpoint),
        "names": ["db-password", "api-key", "missing"],
        "consumers": ["compute"],
        "remember_as": "aws-main",
    }
    response = await acme.call("POST", "/api/v1/secrets/import", "secrets:write", json=body)
    assert response.status_code == 200, response.text
    results = {r["name"]: r for r in response.json()["results"]}
    assert results["db-password"]["imported"]
    assert results["api-key"]["imported"]
    assert results["missing"] == {**results["missing"], "imported": False, "error": "secret-source-not-found"}
    assert "imported-db-pa55" not in response.text
    assert AWS_SECRET not in response.text
    label, blob = await api.container.parts_of("secrets", SecretsService).sealed_for_consumer(
        acme.id, "db-password", Consumer.COMPUTE
    )
    assert open_payload(await api.container.enclave.unseal(acme.id, label, blob))[1] == b"imported-db-pa55"
    listed = await acme.call("GET", "/api/v1/secrets", "secrets:read")
    assert {s["name"]: s["source"] for s in listed.json()} == {"api-key": "aws", "db-password": "aws"}

    # re-sync through the remembered source: its configuration (credentials included) is sealed
    sources = await acme.call("GET", "/api/v1/secrets/sources", "secrets:read")
    assert [s["name"] for s in sources.json()] == ["aws-main"]
    admin.put_secret_value(SecretId="acme/db-password", SecretString="rotated-in-aws")
    resync = await acme.call(
        "POST",
        "/api/v1/secrets/import",
        "secrets:write",
        json={"remembered": "aws-main", "names": ["db-password"]},
    )
    assert resync.json()["results"][0]["version"] == 2, resync.text
    label, blob = await api.container.parts_of("secrets", SecretsService).sealed_for_consumer(
        acme.id, "db-password", Consumer.COMPUTE
    )
    assert open_payload(await api.container.enclave.unseal(acme.id, label, blob))[1] == b"rotated-in-aws"
    async with api.container.parts_of("secrets", SecretsService)._uow(acme.id) as uow:
        stored = await uow.secret_sources.get(acme.id, "aws-main")
    assert stored is not None
    assert AWS_SECRET.encode() not in stored.sealed_config
    unknown = await acme.call(
        "POST", "/api/v1/secrets/import", "secrets:write", json={"remembered": "nope", "names": ["x"]}
    )
    assert unknown.status_code == 404


async def test_pinned_hosts_are_sealed_with_the_value(api: Api) -> None:
    acme = await api.tenant("acme")
    # an IDN in its ASCII (xn--) form: the schema states ASCII host names, as the API checks them
    body = {
        "value": VALUE,
        "consumers": ["oracle"],
        "allowed_hosts": ["API.Example.com", "xn--bcher-kva.example"],
    }
    put = await acme.call("PUT", "/api/v1/secrets/apikey", "secrets:write", json=body)
    assert put.status_code == 201, put.text
    assert put.json()["allowed_hosts"] == ["api.example.com", "xn--bcher-kva.example"]
    service = api.container.parts_of("secrets", SecretsService)
    label, blob = await service.sealed_for_consumer(acme.id, "apikey", Consumer.ORACLE)
    hosts, value = open_payload(await api.container.enclave.unseal(acme.id, label, blob))
    assert (hosts, value) == (("api.example.com", "xn--bcher-kva.example"), VALUE.encode())
    # a rotation keeps the pinned hosts (sealed again with the new value)
    await acme.call("POST", "/api/v1/secrets/apikey/rotate", "secrets:write", json={"value": "v2-value"})
    label, blob = await service.sealed_for_consumer(acme.id, "apikey", Consumer.ORACLE)
    assert open_payload(await api.container.enclave.unseal(acme.id, label, blob))[0] == hosts
    for bad in (["https://api.example.com"], ["api.example.com:443"], ["a/b"], [""], ["bücher.example"]):
        refused = await acme.call(
            "PUT", "/api/v1/secrets/apikey", "secrets:write", json={**body, "allowed_hosts": bad}
        )
        assert refused.status_code == 422, refused.text
        assert "allowed_hosts" in refused.text


@pytest.mark.parametrize(
    ("endpoint", "resolved"),
    [
        ("https://metadata.attacker.example", "169.254.169.254"),
        ("https://internal.attacker.example", "10.1.2.3"),
        ("https://169.254.169.254", None),
        ("https://[::ffff:10.0.0.1]", None),
    ],
)
async def test_an_import_to_a_private_or_metadata_address_is_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch, endpoint: str, resolved: str | None
) -> None:
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        assert resolved is not None
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (resolved, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    acme = await api.tenant("acme")
    body = {"source": _aws_source(endpoint), "names": ["db-password"], "remember_as": "evil"}
    response = await acme.call("POST", "/api/v1/secrets/import", "secrets:write", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "source.endpoint_url" in problem["detail"]
    assert "private, loopback, link-local or metadata" in problem["detail"]
    assert AWS_SECRET not in response.text
    sources = await acme.call("GET", "/api/v1/secrets/sources", "secrets:read")
    assert sources.json() == []  # nothing remembered


async def test_an_import_needs_the_tenants_own_credentials(api: Api) -> None:
    acme = await api.tenant("acme")
    source = _aws_source("https://secretsmanager.eu-central-1.amazonaws.com")
    del source["credentials"]
    response = await acme.call(
        "POST", "/api/v1/secrets/import", "secrets:write", json={"source": source, "names": ["x"]}
    )
    assert response.status_code == 422, response.text
    assert "credentials" in response.text
    azure = {"provider": "azure", "vault_url": "https://acme.vault.azure.net", "client_id": "identity"}
    response = await acme.call(
        "POST", "/api/v1/secrets/import", "secrets:write", json={"source": azure, "names": ["x"]}
    )
    assert response.status_code == 422, response.text
    assert "tenant_id" in response.text
    assert "client_secret" in response.text
