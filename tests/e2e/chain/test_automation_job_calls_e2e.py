"""Tenant jobs calling a contract on a real neo-go chain with the real enclave: the tenant's own key (purpose
``automation``) signs each run, only the granted call, once per occurrence, paid by its account; a call
that faults in the dry run is never sent and says why; keys that are not the tenant's automation keys
are refused at creation."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from neo3.contracts.contract import CONTRACT_HASHES

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, uint160
from tests.e2e.chain.automation_support import deploy_target
from tests.e2e.chain.stack import InProcessWorker, Stack, call, tenant_api_key, wait_for
from tests.http.appclient import app_client

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SCOPES = ["automation:read", "automation:write", "keys:admin", "keys:read"]
MAX_FEE = deploy.GAS // 2


def _job(contract: str, method: str, key_id: str, args: list[dict[str, Any]]) -> dict[str, Any]:
    call_spec = {
        "contract": contract,
        "method": method,
        "args": args,
        "keyId": key_id,
        "maxSystemFee": MAX_FEE,
    }
    return {
        "name": method,
        "trigger": {"everySeconds": 10},
        "action": {"contract": call_spec},
        "catchUp": "all",
    }


async def test_a_tenant_job_calls_a_contract_with_its_own_key_once_per_occurrence(stack: Stack) -> None:
    target = await deploy_target(stack)
    contract = "0x" + str(target)
    headers = {"Authorization": f"Bearer {await tenant_api_key(stack, 'calls-e2e', SCOPES)}"}
    others = {"Authorization": f"Bearer {await tenant_api_key(stack, 'calls-other', SCOPES)}"}
    ping = [{"type": "Integer", "value": "2"}]
    async with app_client(create_app(stack.settings)) as client:

        async def key(purposes: list[str], who: dict[str, str] = headers) -> dict[str, Any]:
            body = {"kind": "secp256r1", "label": "job key", "purposes": purposes}
            made = await client.post("/api/v1/keys", json=body, headers=who)
            assert made.status_code == 201, made.text
            return made.json()  # type: ignore[no-any-return]

        job_key = await key(["automation"])
        # the enclave grants only the tenant's own key with purpose automation
        for wrong in ((await key(["message"]))["key_id"], (await key(["automation"], others))["key_id"]):
            refused = await client.post(
                "/api/v1/automation/jobs", json=_job(contract, "ping", wrong, ping), headers=headers
            )
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")

        account = uint160(job_key["neo_script_hash"])
        await stack.committee.invoke(
            call(
                CONTRACT_HASHES.GAS_TOKEN,
                "transfer",
                stack.committee.script_hash,
                account,
                3 * deploy.GAS,
                None,
            )
        )
        made = await client.post(
            "/api/v1/automation/jobs", json=_job(contract, "ping", job_key["key_id"], ping), headers=headers
        )
        assert made.status_code == 201, made.text
        job = made.json()["job"]
        assert made.json()["webhookSecret"] is None
        assert job["action"]["contract"]["account"] == job_key["neo_script_hash"]
        # tick() refuses every caller but the automation contract: its dry run faults
        faulty = (
            await client.post(
                "/api/v1/automation/jobs", json=_job(contract, "tick", job_key["key_id"], []), headers=headers
            )
        ).json()["job"]

        async def status(job_id: str) -> dict[str, Any]:
            return (await client.get(f"/api/v1/automation/jobs/{job_id}", headers=headers)).json()  # type: ignore[no-any-return]

        async with InProcessWorker(stack.settings):

            async def done() -> bool:
                runs = (await status(job["jobId"]))["runs"]
                bad = (await status(faulty["jobId"]))["runs"]
                return sum(r["status"] == "delivered" for r in runs) >= 2 and any(r["reason"] for r in bad)

            await wait_for(done, 90, "two delivered runs and the faulty job's reason")
        shown = await status(job["jobId"])
        bad = await status(faulty["jobId"])

    delivered = sorted(
        (r for r in shown["runs"] if r["status"] == "delivered"), key=lambda r: r["occurrence"]
    )
    assert all(b["occurrence"] - a["occurrence"] == 10 for a, b in itertools.pairwise(delivered))
    hashes = [r["call"]["transaction"] for r in delivered]
    assert len(set(hashes)) == len(hashes)
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        for run in delivered:
            tx = await endpoint.post("getrawtransaction", [run["call"]["transaction"], True])
            assert tx["sender"] == job_key["neo_address"]  # the tenant's key signed and paid
            assert [s["scopes"] for s in tx["signers"]] == ["CalledByEntry"]
            log = await endpoint.post("getapplicationlog", [run["call"]["transaction"]])
            [execution] = log["executions"]
            assert execution["vmstate"] == "HALT"
            pings = [n for n in execution["notifications"] if n["eventname"] == "Ping"]
            assert len(pings) == 2
            assert {n["contract"] for n in pings} == {contract}
            assert run["call"]["block"] == await endpoint.post(
                "gettransactionheight", [run["call"]["transaction"]]
            )
            assert 0 < run["call"]["gasUsed"] <= MAX_FEE
    finally:
        await endpoint.close()
    assert set(Counter(r["occurrence"] for r in shown["runs"]).values()) == {1}
    money = shown["funding"]  # what is left of the 3 GAS sent to the key's account, and for how long
    assert 0 < money["balance"] < 3 * deploy.GAS
    assert money["runsLeft"] == money["balance"] // money["perRun"]
    # the faulty job: never a transaction, the VM's reason on the run
    assert all(r["call"] is None for r in bad["runs"])
    assert any("only the automation contract" in (r["reason"] or "") for r in bad["runs"])
    assert {r["status"] for r in bad["runs"]} <= {"retrying", "failed", "running"}
