"""Attestation reports through the API: bound keys and nonce, verification with the trust settings."""

from __future__ import annotations

import os
from collections.abc import Callable

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, Tenant
from tests.http.keys.test_keys_api import create


async def test_report_binds_the_tenants_keys_and_the_nonce(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    nonce = os.urandom(16).hex()
    response = await acme.call("GET", "/api/v1/attestation", "attestation:read", params={"nonce": nonce})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["mode"] == "simulation"
    assert report["nonce"] == nonce
    assert [k["public_key"] for k in report["keys"]] == [key["public_key"]]
    # simulation is not accepted unless the installation says so
    verdict = await _verify(acme, report, nonce, [key["public_key"]])
    assert verdict["ok"] is False
    assert "simulation reports are not accepted" in verdict["problems"]


async def test_verify_accepts_simulation_only_when_allowed(api_settings: Callable[..., Settings]) -> None:
    app = create_app(api_settings(attest_accept_simulation=True))
    async with app_client(app) as client:
        api = Api(app, client, app.state.container.settings, None)  # type: ignore[arg-type]
        acme = await api.tenant("acme")
        first = await create(acme)
        second = await create(acme, "secp256k1")
        nonce = os.urandom(32).hex()
        chosen = await acme.call(
            "GET",
            "/api/v1/attestation",
            "attestation:read",
            params={"nonce": nonce, "key_id": [second["key_id"]]},
        )
        report = chosen.json()
        assert [k["key_id"] for k in report["keys"]] == [second["key_id"]]
        verdict = await _verify(acme, report, nonce, [second["public_key"]])
        assert verdict["ok"] is True, verdict
        assert verdict["mode"] == "simulation"
        wrong_nonce = await _verify(acme, report, os.urandom(32).hex(), [])
        assert wrong_nonce["ok"] is False
        assert "nonce does not match" in wrong_nonce["problems"]
        not_bound = await _verify(acme, report, nonce, [first["public_key"]])
        assert not_bound["ok"] is False

        evil = await api.tenant("evil")
        other = await evil.call(
            "GET",
            "/api/v1/attestation",
            "attestation:read",
            params={"nonce": nonce, "key_id": [first["key_id"]]},
        )
        assert other.status_code == 404
        bad = await acme.call("GET", "/api/v1/attestation", "attestation:read", params={"nonce": "zz" * 16})
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["query.nonce"]
        short = await acme.call("GET", "/api/v1/attestation", "attestation:read", params={"nonce": "00"})
        assert short.status_code == 422
        no_scope = await acme.call("GET", "/api/v1/attestation", "keys:read", params={"nonce": nonce})
        assert no_scope.status_code == 403


async def _verify(
    tenant: Tenant, report: dict[str, object], nonce: str, keys: list[str]
) -> dict[str, object]:
    body = {"report": report, "nonce": nonce, "expected_public_keys": keys}
    response = await tenant.call("POST", "/api/v1/attestation/verify", "attestation:read", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
