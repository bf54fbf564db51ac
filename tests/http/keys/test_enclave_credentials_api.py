"""Enclave-checked credentials through the real app and a real enclave with per-client tokens.

``PUT /api/v1/tenants/{id}/enclave-credentials`` switches them on with an API key of the tenant; then
the tenant's keys sign for its API keys (the enclave checks each key itself) and not for a session,
which cannot prove the tenant to the enclave.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.enclave.wire.keys import CredentialRequired, Purpose, SignatureFormat
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.identity.rules.errors import CredentialProofRequired
from tests.http.appclient import app_client
from tests.http.keys.conftest import ALL, Api, MovableClock, Tenant
from tests.integration.enclave.enclave_process_fakes import PeerEnclave
from tests.scopes import TENANT_SCOPES

TOKENS = {
    "api": "api-token-http-credentials-0",
    "worker": "worker-token-http-credentia",
    "cli": "cli-token-http-credentials-0",
}
PASSWORD = "a long enough pass phrase"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def clients_enclave() -> Iterator[PeerEnclave]:
    """An enclave serving per-client tokens, as in production (the api client is the one checked)."""
    directory = Path(tempfile.mkdtemp(prefix="nsl-hc-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""},
    )
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def api(
    api_settings: Callable[..., Settings], clients_enclave: PeerEnclave, clock: MovableClock
) -> AsyncIterator[Api]:
    settings = api_settings(
        data_dir=clients_enclave.data_dir,
        enclave_socket=clients_enclave.socket_path,
        enclave_token=TOKENS["api"],
    )
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        yield Api(app, client, app.state.container.settings, clients_enclave)


def _owner(tenant: Tenant) -> Principal:
    return Principal(
        tenant_id=tenant.id,
        subject="usr_test_owner",
        kind=PrincipalKind.USER,
        roles=frozenset({"owner"}),
        scopes=TENANT_SCOPES,
    )


async def _developer_session(api: Api, tenant: Tenant) -> dict[str, str]:
    """``Authorization`` of a signed-in developer (keys:sign, apikeys:admin; a session, no API key)."""
    await api.container.iam.identity.add_member(
        _owner(tenant), tenant.id, username=f"dev-{tenant.id}", role=Role.DEVELOPER, password=PASSWORD
    )
    response = await api.client.post(
        "/api/v1/auth/token",
        json={"username": f"dev-{tenant.id}", "password": PASSWORD, "tenant": tenant.id},
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def _switch(tenant: Tenant, enabled: bool, *scopes: str) -> httpx.Response:
    path = f"/api/v1/tenants/{tenant.id}/enclave-credentials"
    return await tenant.call("PUT", path, *scopes, json={"enabled": enabled})


async def _create_key(tenant: Tenant, headers: dict[str, str]) -> httpx.Response:
    body = {"kind": "secp256r1", "label": "k", "purposes": ["message"]}
    return await tenant.client.post("/api/v1/keys", headers=headers, json=body)


async def _sign(tenant: Tenant, key_id: str, headers: dict[str, str]) -> httpx.Response:
    path = f"/api/v1/keys/{key_id}/sign"
    return await tenant.client.post(path, headers=headers, json={"message": "00ff"})


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert code in body["type"]
    return body


async def test_the_switch_is_off_by_default_and_needs_an_admin_api_key(api: Api) -> None:
    tenant = await api.tenant("acme")
    path = f"/api/v1/tenants/{tenant.id}/enclave-credentials"
    read = await tenant.call("GET", path)
    assert read.status_code == 200, read.text
    assert read.json() == {"enabled": False}
    _problem(await _switch(tenant, True, "keys:sign"), 403, "missing-scope")
    with pytest.raises(CredentialProofRequired):  # a session (a user principal) cannot switch it
        await api.container.iam.enclave_credentials.switch(_owner(tenant), tenant.id, True)
    switched = await _switch(tenant, True, "tenants:admin")
    assert switched.status_code == 200, switched.text
    assert switched.json() == {"enabled": True}
    assert (await tenant.call("GET", path)).json() == {"enabled": True}
    _problem(await tenant.call("PUT", path, json={}), 422, "validation")
    entries = await tenant.call("GET", "/api/v1/audit", params={"action": "tenant.enclave_credentials"})
    assert entries.status_code == 200, entries.text
    assert "tenant.enclave_credentials" in entries.text
    # the switch is per tenant, and the OpenAPI document lists it with its problem responses
    other = await api.tenant("other")
    assert (await other.call("GET", f"/api/v1/tenants/{other.id}/enclave-credentials")).json() == {
        "enabled": False
    }
    spec = (await api.client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/tenants/{tenant_id}/enclave-credentials"]["put"]
    assert {"200", "403", "503"} <= set(operation["responses"])


async def test_an_enforcing_tenant_signs_with_its_api_key_and_not_with_a_session(api: Api) -> None:
    tenant = await api.tenant("acme")
    session = await _developer_session(api, tenant)
    before = (await _create_key(tenant, await tenant.headers())).json()["key_id"]
    assert (await _sign(tenant, before, session)).status_code == 200  # not enforcing: as today
    signer = await tenant.headers("keys:sign")  # an API key made before the switch
    assert (await _switch(tenant, True, *ALL)).status_code == 200

    signed = await _sign(tenant, before, signer)
    assert signed.status_code == 200, signed.text
    created = await _create_key(tenant, await tenant.headers())
    assert created.status_code == 201, created.text
    assert (await _sign(tenant, created.json()["key_id"], await tenant.headers())).status_code == 200

    refused = _problem(await _sign(tenant, before, session), 403, "credential-required")
    assert "none was presented" in refused["detail"]
    # a session cannot mint itself an API key of the tenant either: only an admin API key can
    minted = await tenant.client.post(
        f"/api/v1/tenants/{tenant.id}/api-keys", headers=session, json={"name": "x", "scopes": ["keys:sign"]}
    )
    _problem(minted, 403, "credential-required")
    issued = await tenant.call(
        "POST",
        f"/api/v1/tenants/{tenant.id}/api-keys",
        json={"name": "ci", "scopes": ["keys:sign"], "expires_at": "2099-01-01T00:00:00.654321Z"},
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["expires_at"].startswith("2099-01-01T00:00:00")
    fresh = {"authorization": f"Bearer {issued.json()['key']}"}
    assert (await _sign(tenant, before, fresh)).status_code == 200

    assert (await _switch(tenant, False, *ALL)).json() == {"enabled": False}
    assert (await _sign(tenant, before, session)).status_code == 200


async def test_revoking_an_api_key_tells_the_enclave(api: Api) -> None:
    """Revocation reaches the enclave itself: the key is refused there even if the API were to accept it."""
    tenant = await api.tenant("acme")
    key_id = (await _create_key(tenant, await tenant.headers())).json()["key_id"]
    assert (await _switch(tenant, True, *ALL)).status_code == 200
    issued = await tenant.call(
        "POST", f"/api/v1/tenants/{tenant.id}/api-keys", json={"name": "ci", "scopes": ["keys:sign"]}
    )
    raw = issued.json()["key"]
    principal = await api.container.iam.auth.authenticate(raw)
    assert principal.credential is not None
    assert principal.credential.key_id == issued.json()["id"]
    enclave = api.container.enclave.with_credential(principal.credential)
    assert await enclave.sign(
        key_id, b"m", tenant=tenant.id, purpose=Purpose.MESSAGE, fmt=SignatureFormat.ECDSA_SHA256
    )
    revoked = await tenant.call("DELETE", f"/api/v1/tenants/{tenant.id}/api-keys/{issued.json()['id']}")
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(CredentialRequired, match="revoked"):
        await enclave.sign(
            key_id, b"m", tenant=tenant.id, purpose=Purpose.MESSAGE, fmt=SignatureFormat.ECDSA_SHA256
        )
    assert (await _sign(tenant, key_id, {"authorization": f"Bearer {raw}"})).status_code == 401


async def test_a_fresh_start_ends_every_earlier_api_key_but_the_callers(api: Api) -> None:
    tenant = await api.tenant("acme")
    key_id = (await _create_key(tenant, await tenant.headers())).json()["key_id"]
    minted = await tenant.headers("keys:sign")  # say, by a compromised API before the switch
    await asyncio.sleep(0.01)  # the enclave's clock counts milliseconds
    path = f"/api/v1/tenants/{tenant.id}/enclave-credentials"
    switched = await tenant.call("PUT", path, json={"enabled": True, "fresh_start": True})
    assert switched.status_code == 200, switched.text
    refused = _problem(await _sign(tenant, key_id, minted), 403, "credential-required")
    assert "fresh start" in refused["detail"]
    assert (await _sign(tenant, key_id, await tenant.headers())).status_code == 200  # the caller's key
