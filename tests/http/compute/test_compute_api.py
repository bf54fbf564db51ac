"""``/api/v1/compute`` against a real enclave: upload a module, run it, check its receipt (API and CLI),
and the refusals a client sees."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from typer.testing import CliRunner

from neo_service_layer.cli import app as cli_app
from neo_service_layer.services.compute.rules import ComputeKey
from tests.http.keys.conftest import Api
from tests.unit.enclave.wat_functions import ECHO_FOUR, ENDLESS_LOOP, UNKNOWN_IMPORT


def _module(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_upload_run_and_verify_a_receipt(api: Api, compute_key: ComputeKey, tmp_path: Path) -> None:
    tenant = await api.tenant("acme")
    created = await tenant.call(
        "POST",
        "/api/v1/compute/functions",
        json={
            "name": "echo",
            "language": "wasm",
            "moduleBase64": _module(ECHO_FOUR),
            "limits": {"fuel": 10**8},
        },
    )
    assert created.status_code == 201, created.text
    fn = created.json()
    assert fn["limits"] == {"fuel": 10**8}
    function_id = fn["functionId"]
    ran = await tenant.call(
        "POST", f"/api/v1/compute/functions/{function_id}/runs", json={"input": {"pad": "z" * 80}}
    )
    assert ran.status_code == 200, ran.text
    run = ran.json()
    assert run["outcome"] == "success"
    assert run["resultText"] is not None
    result = base64.b64decode(run["resultBase64"])
    assert result == ('{"pad":"' + "z" * 80 + '"}').encode() * 4
    assert len(result) > 256
    assert run["receipt"]["functionHash"] == fn["digest"]
    assert run["receipt"]["publicKey"] == compute_key.public_key.hex()

    verify = await tenant.call(
        "POST",
        "/api/v1/compute/receipts/verify",
        json={"receipt": run["receipt"], "resultBase64": run["resultBase64"], "input": {"pad": "z" * 80}},
    )
    assert verify.json() == {"valid": True, "problems": []}
    altered = await tenant.call(
        "POST",
        "/api/v1/compute/receipts/verify",
        json={"receipt": run["receipt"], "resultBase64": _module(b"another result")},
    )
    assert altered.json() == {"valid": False, "problems": ["the result is not the one signed"]}

    # the same check with no server: nsl compute verify
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(run))
    runner = CliRunner()
    ok = runner.invoke(
        cli_app, ["compute", "verify", str(run_file), "--public-key", compute_key.public_key.hex()]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["valid"] is True
    as_json = runner.invoke(
        cli_app, ["compute", "verify", str(run_file), "--public-key", compute_key.public_key.hex(), "--json"]
    )
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, json.loads(ok.output))
    run["resultBase64"] = _module(b"forged")
    run_file.write_text(json.dumps(run))
    bad = runner.invoke(
        cli_app, ["compute", "verify", str(run_file), "--public-key", compute_key.public_key.hex()]
    )
    assert bad.exit_code == 1
    assert json.loads(bad.output)["problems"] == ["the result is not the one signed"]

    listed = await tenant.call("GET", f"/api/v1/compute/functions/{function_id}/runs")
    assert [r["runId"] for r in listed.json()["runs"]] == [run["runId"]]
    one = await tenant.call("GET", f"/api/v1/compute/runs/{run['runId']}")
    assert one.json()["receipt"] == run["receipt"]


async def test_limits_and_refusals_say_which_rule(api: Api, compute_key: ComputeKey) -> None:
    tenant = await api.tenant("acme")
    loop = await tenant.call(
        "POST",
        "/api/v1/compute/functions",
        json={
            "name": "loop",
            "language": "wasm",
            "moduleBase64": _module(ENDLESS_LOOP),
            "limits": {"fuel": 2_000_000},
        },
    )
    assert loop.status_code == 201, loop.text
    ran = await tenant.call("POST", f"/api/v1/compute/functions/{loop.json()['functionId']}/runs", json={})
    assert ran.json()["outcome"] == "fuel_exhausted"
    assert "fuel = 2000000" in ran.json()["detail"]
    metrics = (await api.client.get("/metrics")).text
    assert 'nsl_compute_runs_total{outcome="fuel_exhausted",where="offchain"} 1.0' in metrics
    assert "nsl_compute_run_fuel_count 1.0" in metrics

    above = await tenant.call(
        "POST",
        "/api/v1/compute/functions",
        json={
            "name": "big",
            "language": "wasm",
            "moduleBase64": _module(ECHO_FOUR),
            "limits": {"fuel": 10**14},
        },
    )
    assert above.status_code == 422
    assert "fuel = 100000000000000 is above the operator's maximum" in above.json()["detail"]

    not_wasm = await tenant.call(
        "POST",
        "/api/v1/compute/functions",
        json={"name": "x", "language": "wasm", "moduleBase64": _module(b"not a module at all")},
    )
    assert not_wasm.status_code == 422
    assert "not a WebAssembly binary" in not_wasm.json()["detail"]

    unknown = await tenant.call(
        "POST",
        "/api/v1/compute/functions",
        json={"name": "u", "language": "wasm", "moduleBase64": _module(UNKNOWN_IMPORT)},
    )
    ran = await tenant.call("POST", f"/api/v1/compute/functions/{unknown.json()['functionId']}/runs", json={})
    assert ran.json()["outcome"] == "invalid_module"
    assert "launch_missiles" in ran.json()["detail"]

    other = await api.tenant("globex")
    hidden = await other.call("GET", f"/api/v1/compute/functions/{loop.json()['functionId']}")
    assert hidden.status_code == 404
    foreign_run = await other.call(
        "POST", f"/api/v1/compute/functions/{loop.json()['functionId']}/runs", json={}
    )
    assert foreign_run.status_code == 404
    no_scope = await tenant.call(
        "POST", "/api/v1/compute/functions", "compute:read", json={"name": "n", "language": "wasm"}
    )
    assert no_scope.status_code == 403
