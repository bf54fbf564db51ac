"""``GET /api/v1/attestation/platform``: a report binding exactly the platform's keys, over HTTP in
process with a REAL enclave process.

The platform keys (transaction sender, randomness ECDSA and BLS, oracle, native-oracle node) are
created in the enclave as ``nsl chain up`` creates them, and recorded in ``chain_service_keys``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import update

from neo_service_layer.bootstrap import create_app
from neo_service_layer.enclave.attestation import compute_report_data
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_sender
from neo_service_layer.kernel.chain.adapters.tables import chain_service_keys
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.native_oracle.adapters.node import ensure_native_oracle_key
from neo_service_layer.services.oracle.adapters.oracle_key import ensure_oracle_key
from neo_service_layer.services.randomness.adapters.keys import ensure_randomness_keys
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, Tenant
from tests.http.keys.test_keys_api import create

PLATFORM = "/api/v1/attestation/platform"
ROLES = {"sender", "randomness-ecdsa", "randomness-bls", "oracle-ecdsa", "native-oracle-node"}


@pytest.fixture
async def trusting_api(api_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    """The API of an installation that accepts simulation reports of its local enclave."""
    app = create_app(api_settings(attest_accept_simulation=True))
    async with app_client(app) as client:
        yield Api(app, client, app.state.container.settings, None)  # type: ignore[arg-type]


async def provision(api: Api) -> dict[str, str]:
    """Create the platform keys in the enclave (as ``nsl chain up`` does); role -> public key hex."""
    store, enclave, clock = api.container.platform_keys, api.container.enclave, SystemClock()
    await ensure_sender(store, enclave, clock)
    await ensure_randomness_keys(store, enclave, clock)
    await ensure_oracle_key(store, enclave, clock)
    await ensure_native_oracle_key(store, enclave, clock)
    return {role: key[2].hex() for role, key in (await store.service_keys()).items()}


async def test_a_platform_report_binds_exactly_the_platform_keys_and_verifies(trusting_api: Api) -> None:
    acme = await trusting_api.tenant("acme")
    tenant_key = await create(acme)  # a tenant key exists: it must not be in the platform report
    platform = await provision(trusting_api)
    assert set(platform) == ROLES
    nonce = os.urandom(32).hex()
    response = await acme.call("GET", PLATFORM, "attestation:read", params={"nonce": nonce})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {role: k["public_key"] for role, k in body["keys"].items()} == platform
    report = body["report"]
    assert report["nonce"] == nonce
    bound = sorted(k["public_key"] for k in report["keys"])
    assert bound == sorted(platform.values())  # exactly these: none missing, none added
    assert tenant_key["public_key"] not in bound
    assert {k["key_id"] for k in report["keys"]} == {k["key_id"] for k in body["keys"].values()}
    # the report data is the digest of exactly these keys and the nonce
    assert compute_report_data(report["keys"], bytes.fromhex(nonce)).hex() == report["report_data"]
    verdict = await _verify(acme, report, nonce, list(platform.values()))
    assert verdict["ok"] is True, verdict
    # a key the platform does not use is not vouched for by this report
    other = await _verify(acme, report, nonce, [*platform.values(), tenant_key["public_key"]])
    assert other["ok"] is False
    assert f"public key {tenant_key['public_key']} is not bound in the report" in other["problems"]
    # a replayed report does not answer a fresh nonce
    replay = await _verify(acme, report, os.urandom(32).hex(), list(platform.values()))
    assert replay["ok"] is False


async def test_any_tenant_with_attestation_read_may_ask_and_nobody_else(trusting_api: Api) -> None:
    await provision(trusting_api)
    evil = await trusting_api.tenant("evil")
    nonce = os.urandom(16).hex()
    allowed = await evil.call("GET", PLATFORM, "attestation:read", params={"nonce": nonce})
    assert allowed.status_code == 200, allowed.text
    assert set(allowed.json()["keys"]) == ROLES
    denied = await evil.call("GET", PLATFORM, "keys:read", params={"nonce": nonce})
    assert denied.status_code == 403
    anonymous = await trusting_api.client.get(PLATFORM, params={"nonce": nonce})
    assert anonymous.status_code == 401
    bad = await evil.call("GET", PLATFORM, "attestation:read", params={"nonce": "zz" * 16})
    assert bad.status_code == 422
    short = await evil.call("GET", PLATFORM, "attestation:read", params={"nonce": "00"})
    assert short.status_code == 422


async def test_no_platform_keys_is_a_404(trusting_api: Api) -> None:
    acme = await trusting_api.tenant("acme")
    response = await acme.call("GET", PLATFORM, "attestation:read", params={"nonce": os.urandom(16).hex()})
    assert response.status_code == 404
    assert response.json()["type"].endswith("no-platform-keys")


async def test_a_role_whose_recorded_key_is_not_the_enclaves_gets_no_report(trusting_api: Api) -> None:
    """A database writer swaps a role's public key: the API refuses instead of vouching for it."""
    await provision(trusting_api)
    async with trusting_api.container.engine.begin() as conn:
        await conn.execute(
            update(chain_service_keys)
            .where(chain_service_keys.c.role == "randomness-ecdsa")
            .values(public_key=b"\x02" + b"\x11" * 32)
        )
    acme = await trusting_api.tenant("acme")
    response = await acme.call("GET", PLATFORM, "attestation:read", params={"nonce": os.urandom(16).hex()})
    assert response.status_code == 409, response.text
    assert "randomness-ecdsa" in response.json()["detail"]


async def _verify(
    tenant: Tenant, report: dict[str, object], nonce: str, keys: list[str]
) -> dict[str, object]:
    body = {"report": report, "nonce": nonce, "expected_public_keys": keys}
    response = await tenant.call("POST", "/api/v1/attestation/verify", "attestation:read", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
