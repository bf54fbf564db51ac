"""Single fields of Vault KV v2 secrets imported over the API (``fields``): each field's own bytes are
sealed under the name the tenant gives it, beside whole secrets from ``names``; a missing field is a
per-item result; fields from AWS, a secret named twice, or nothing named are refused with a 422 before
any source is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from neo_service_layer.enclave.wire.secret_labels import open_payload
from neo_service_layer.services.secrets.rules import Consumer
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService
from tests.http.keys.conftest import Api
from tests.integration.secrets_sources.vault_fake import VaultState, running_vault

TOKEN = "hvs.field-import-reader"  # the fake Vault's token


@pytest.fixture
def vault() -> Iterator[tuple[VaultState, str]]:
    state = VaultState()
    state.tokens[TOKEN] = ("tenants/acme/",)
    state.put("tenants/acme/db/creds", {"username": "app", "password": "pa55-from-vault", "port": 5432})
    with running_vault(state) as url:
        yield state, url


def _source(url: str) -> dict[str, Any]:
    return {"provider": "vault", "url": url, "auth": {"token": TOKEN}, "path_prefix": "tenants/acme"}


async def _opened(api: Api, tenant_id: str, name: str) -> bytes:
    label, blob = await api.container.parts_of("secrets", SecretsService).sealed_for_consumer(
        tenant_id, name, Consumer.ORACLE
    )
    return open_payload(await api.container.enclave.unseal(tenant_id, label, blob))[1]


async def test_fields_are_sealed_under_their_own_names_beside_whole_secrets(
    api: Api, vault: tuple[VaultState, str]
) -> None:
    state, url = vault
    acme = await api.tenant("acme")
    body = {
        "source": _source(url),
        "names": ["db/creds"],
        "fields": [
            {"path": "db/creds", "field": "password", "name": "db-password"},
            {"path": "db/creds", "field": "port", "name": "db-port"},
            {"path": "db/creds", "field": "missing", "name": "db-missing"},
        ],
        "consumers": ["oracle"],
        "remember_as": "vault-main",
    }
    response = await acme.call("POST", "/api/v1/secrets/import", "secrets:write", json=body)
    assert response.status_code == 200, response.text
    results = [(r["name"], r["imported"], r.get("error")) for r in response.json()["results"]]
    assert results == [
        ("db/creds", True, None),
        ("db-password", True, None),
        ("db-port", True, None),
        ("db-missing", False, "secret-source-not-found"),
    ]
    assert "pa55-from-vault" not in response.text
    assert await _opened(api, acme.id, "db-password") == b"pa55-from-vault"  # the field alone
    assert await _opened(api, acme.id, "db-port") == b"5432"  # not a string: as JSON
    whole = json.loads(await _opened(api, acme.id, "db/creds"))
    assert whole == {"username": "app", "password": "pa55-from-vault", "port": 5432}
    reads = [r.path for r in state.requests if r.path.startswith("/v1/secret/data/")]
    assert reads == ["/v1/secret/data/tenants/acme/db/creds"] * 4  # one read per item

    # re-sync one field through the remembered source: a new version of that secret only
    state.put("tenants/acme/db/creds", {"username": "app", "password": "rotated-in-vault"})
    resync = await acme.call(
        "POST",
        "/api/v1/secrets/import",
        "secrets:write",
        json={
            "remembered": "vault-main",
            "fields": [{"path": "db/creds", "field": "password", "name": "db-password"}],
        },
    )
    assert resync.status_code == 200, resync.text
    assert [(r["name"], r["version"]) for r in resync.json()["results"]] == [("db-password", 2)]
    assert await _opened(api, acme.id, "db-password") == b"rotated-in-vault"
    listed = await acme.call("GET", "/api/v1/secrets", "secrets:read")
    assert {s["name"]: s["current_version"] for s in listed.json()} == {
        "db/creds": 1,
        "db-password": 2,
        "db-port": 1,
    }


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"names": [], "fields": []}, "name at least one secret"),
        ({"names": ["db-password"]}, "named once"),
        ({"fields": [{"path": "db/creds", "field": "password", "name": "a"}] * 2}, "named once"),
        ({"source": "aws"}, "Vault only"),
    ],
)
async def test_an_import_that_names_nothing_twice_or_fields_outside_vault_is_refused(
    api: Api, vault: tuple[VaultState, str], change: dict[str, Any], said: str
) -> None:
    state, url = vault
    acme = await api.tenant("acme")
    body: dict[str, Any] = {
        "source": _source(url),
        "fields": [{"path": "db/creds", "field": "password", "name": "db-password"}],
    }
    if change.get("source") == "aws":
        aws = {"access_key_id": "AKIAEXAMPLETESTKEY01", "secret_access_key": "not-used"}
        change = {"source": {"provider": "aws", "region": "eu-central-1", "credentials": aws}}
    body |= change
    response = await acme.call("POST", "/api/v1/secrets/import", "secrets:write", json=body)
    assert response.status_code == 422, response.text
    assert said in response.json()["detail"]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not [r for r in state.requests if r.path.startswith("/v1/secret/data/")]  # nothing was read
    listed = await acme.call("GET", "/api/v1/secrets", "secrets:read")
    assert listed.json() == []
