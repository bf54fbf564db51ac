"""A tenant job calling a contract with its own key, exactly once through replicas and kills: an event job
(each ``Ping`` of the target) whose action is ``target.arm()`` signed by the tenant's automation key, served
by two ``nsl worker`` processes on one database, one SIGKILLed and restarted, then the neo-go node killed
and restarted. On chain, the key's account sends exactly one transaction per ``Ping``: none twice, none
lost."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from typing import Any

import pytest
from neo3.contracts.contract import CONTRACT_HASHES

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, uint160
from tests.e2e.chain.automation_support import deploy_target, height, restart_node
from tests.e2e.chain.chaos_checks import worker_errors
from tests.e2e.chain.stack import Stack, call, tenant_api_key, wait_for
from tests.http.appclient import app_client

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SCOPES = ["automation:read", "automation:write", "keys:admin"]


async def _sent_by(stack: Stack, address: str, first: int, last: int) -> list[str]:
    """Hashes of the transactions ``address`` sent in blocks ``first..last``, each HALTed."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    found = []
    try:
        for index in range(first, last + 1):
            block = await endpoint.post("getblock", [index, True])
            for tx in block.get("tx", []):
                if tx["sender"] == address:
                    log = await endpoint.post("getapplicationlog", [tx["hash"]])
                    assert log["executions"][0]["vmstate"] == "HALT"
                    found.append(tx["hash"])
    finally:
        await endpoint.close()
    return found


async def test_a_contract_job_sends_one_transaction_per_event_through_replicas_and_kills(
    stack: Stack,
) -> None:
    target = await deploy_target(stack)
    contract = "0x" + str(target)
    headers = {"Authorization": f"Bearer {await tenant_api_key(stack, 'resilient', SCOPES)}"}
    async with app_client(create_app(stack.settings)) as client:
        body = {"kind": "secp256r1", "label": "job key", "purposes": ["automation"]}
        key = (await client.post("/api/v1/keys", json=body, headers=headers)).json()
        await stack.committee.invoke(
            call(
                CONTRACT_HASHES.GAS_TOKEN,
                "transfer",
                stack.committee.script_hash,
                uint160(key["neo_script_hash"]),
                50 * deploy.GAS,
                None,
            )
        )
        action = {
            "contract": {
                "contract": contract,
                "method": "arm",
                "keyId": key["key_id"],
                "maxSystemFee": deploy.GAS // 10,
            }
        }
        trigger = {"event": {"contract": contract, "name": "Ping"}}
        made = await client.post(
            "/api/v1/automation/jobs",
            json={"name": "arm on ping", "trigger": trigger, "action": action},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        job_id = made.json()["job"]["jobId"]
    first = await height(stack)

    replicas = [stack.start_worker(), stack.start_worker()]
    sent = 0

    async def ping(n: int) -> None:
        nonlocal sent
        await stack.committee.invoke(call(target, "ping", n))
        sent += n

    await ping(5)
    replicas[0].send_signal(signal.SIGKILL)  # while runs of the first pings are in flight
    replicas[0].wait()
    await ping(5)
    await asyncio.sleep(1.0)
    stack.start_worker()
    await ping(5)
    await restart_node(stack)
    await ping(5)

    async def runs() -> list[dict[str, Any]]:
        async with app_client(create_app(stack.settings)) as client:
            shown = await client.get(f"/api/v1/automation/jobs/{job_id}", headers=headers)
            return shown.json()["runs"]  # type: ignore[no-any-return]

    async def settled() -> bool:
        return sum(r["status"] == "delivered" for r in await runs()) >= sent

    await wait_for(settled, 120, "a delivered run per Ping")
    await asyncio.sleep(3 * stack.settings.neo_block_time_seconds)  # a duplicate would land by now
    last = await height(stack)
    stack.stop_processes()

    shown = await runs()
    assert len(shown) == sent  # RUNS_SHOWN is 20: every run of the 20 pings
    assert {r["status"] for r in shown} == {"delivered"}
    assert set(Counter(r["occurrence"] for r in shown).values()) == {1}
    hashes = [r["call"]["transaction"] for r in shown]
    on_chain = await _sent_by(stack, key["neo_address"], first, last)
    assert sorted(on_chain) == sorted(hashes)  # one transaction per Ping: none twice, none lost
    assert worker_errors(stack) == {}
