"""A tenant hears of its functions' runs: each off-chain run publishes one ``compute.run.*`` event in
the transaction that records the run, with what it used and the result's hash, never the result."""

from __future__ import annotations

import base64
import hashlib

from neo_service_layer.services.compute.rules import ComputeKey
from tests.http.events_support import outbox_of
from tests.http.keys.conftest import Api, Tenant
from tests.unit.enclave.wat_functions import ECHO_FOUR, ENDLESS_LOOP


async def _function(tenant: Tenant, name: str, module: bytes, fuel: int) -> str:
    body = {
        "name": name,
        "language": "wasm",
        "moduleBase64": base64.b64encode(module).decode(),
        "limits": {"fuel": fuel},
    }
    created = await tenant.call("POST", "/api/v1/compute/functions", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["functionId"])


async def test_each_run_publishes_one_event_for_its_owner(api: Api, compute_key: ComputeKey) -> None:
    acme, other = await api.tenant("acme"), await api.tenant("other")
    echo = await _function(acme, "echo", ECHO_FOUR, 10**8)
    loop = await _function(acme, "loop", ENDLESS_LOOP, 2_000_000)

    ran = await acme.call("POST", f"/api/v1/compute/functions/{echo}/runs", json={"input": {"k": "secret"}})
    assert ran.status_code == 200, ran.text
    result = base64.b64decode(ran.json()["resultBase64"])
    stopped = await acme.call("POST", f"/api/v1/compute/functions/{loop}/runs", json={})
    assert stopped.json()["outcome"] == "fuel_exhausted"

    events = [(t, d) for _, t, d in await outbox_of(api.container, acme.id) if t.startswith("compute.")]
    assert [t for t, _ in events] == ["compute.run.completed", "compute.run.failed"]
    done, failed = events[0][1], events[1][1]
    assert done == {
        "functionId": echo,
        "where": "offchain",
        "runId": ran.json()["runId"],
        "outcome": "success",
        "code": 0,
        "fuelUsed": ran.json()["fuelUsed"],
        "wallMs": ran.json()["wallMs"],
        "fetches": 0,
        "resultBytes": len(result),
        "resultSha256": hashlib.sha256(result).hexdigest(),
    }
    assert "secret" not in str(done)  # the result (which echoes the input) is not in the event
    assert failed["runId"] == stopped.json()["runId"]
    assert failed["outcome"] == "fuel_exhausted"
    assert "fuel = 2000000" in failed["detail"]
    assert not [t for _, t, _ in await outbox_of(api.container, other.id) if t.startswith("compute.")]


async def test_a_subscription_may_name_compute_runs(api: Api, compute_key: ComputeKey) -> None:
    acme = await api.tenant("acme")
    created = await acme.call(
        "POST",
        "/api/v1/subscriptions",
        json={"name": "runs", "source": {"types": ["compute.run.*"]}, "channel": {"stream": {}}},
    )
    assert created.status_code == 201, created.text
    assert created.json()["subscription"]["source"]["types"] == ["compute.run.*"]
