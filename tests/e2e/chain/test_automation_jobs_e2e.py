"""Tenant jobs on block triggers on a real neo-go chain: an event job and a condition job created over
the API deliver a signed webhook to a receiver on 127.0.0.1 once per matching notification and once per
checked height that held, from the worker's block scanner and runner."""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from neo_service_layer.bootstrap import create_app
from neo_service_layer.services.automation.rules.jobs import (
    JOB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from tests.e2e.chain.automation_support import deploy_target, height
from tests.e2e.chain.stack import InProcessWorker, Stack, call, tenant_api_key, wait_for
from tests.http.appclient import app_client

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@dataclass
class Receiver:
    url: str = ""
    secrets: dict[str, bytes] = field(default_factory=dict)
    got: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)

    def of(self, job: str) -> list[dict[str, Any]]:
        return [body for j, body, _ in self.got if j == job]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 checking each call's signature with the job's secret."""
    found = Receiver()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        job = request.headers[JOB_HEADER]
        stamp = int(request.headers[TIMESTAMP_HEADER])
        valid = verify_signature(found.secrets.get(job, b""), stamp, body, request.headers[SIGNATURE_HEADER])
        found.got.append((job, json.loads(body), valid))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


def _hex(value: object) -> str:
    return str(value).lower().removeprefix("0x")


async def test_event_and_condition_jobs_deliver_once_per_occurrence(stack: Stack, receiver: Receiver) -> None:
    settings = stack.settings.model_copy(
        update={"oracle_allow_hosts": ["127.0.0.1"], "oracle_allow_http": True}
    )
    target = await deploy_target(stack)
    contract = "0x" + str(target)
    key = await tenant_api_key(stack, "jobs-e2e", ["automation:read", "automation:write"])
    headers = {"Authorization": f"Bearer {key}"}
    action = {"webhook": {"url": receiver.url, "data": {"from": "e2e"}}}
    async with app_client(create_app(settings)) as client:
        jobs = {}
        for name, trigger in (
            ("event", {"event": {"contract": contract, "name": "Ping"}}),
            (
                "filtered",
                {"event": {"contract": contract, "name": "Ping", "filters": [{"index": 0, "value": 1}]}},
            ),
            ("condition", {"condition": {"contract": contract, "method": "ready", "everyBlocks": 1}}),
        ):
            body = {"name": name, "trigger": trigger, "action": action, "catchUp": "all"}
            created = await client.post("/api/v1/automation/jobs", json=body, headers=headers)
            assert created.status_code == 201, created.text
            job_id = created.json()["job"]["jobId"]
            receiver.secrets[job_id] = created.json()["webhookSecret"].encode()
            jobs[name] = job_id
        start = await height(stack)

        async with InProcessWorker(settings):
            before = await stack.committee.invoke(call(target, "ping", 1))  # not armed yet: no condition run
            ping = await stack.committee.invoke(call(target, "ping", 3))
            await stack.committee.invoke(call(target, "arm"))

            async def delivered() -> bool:
                return (
                    len(receiver.of(jobs["event"])) >= 4
                    and len(receiver.of(jobs["filtered"])) >= 1
                    and len(receiver.of(jobs["condition"])) >= 2
                )

            await wait_for(delivered, 60, "the event and condition jobs' webhooks")
            shown = (await client.get(f"/api/v1/automation/jobs/{jobs['event']}", headers=headers)).json()

    assert all(valid for _, _, valid in receiver.got)
    assert set(Counter((j, b["occurrence"]) for j, b, _ in receiver.got).values()) == {1}  # each once

    # every Ping notification once, as block * 10**6 + its position, with its transaction and values
    events = sorted(receiver.of(jobs["event"]), key=lambda b: b["occurrence"])
    expected = [before.included_in_block * 10**6] + [ping.included_in_block * 10**6 + i for i in range(3)]
    assert [b["occurrence"] for b in events] == expected
    for got, value in zip(events, [0, 0, 1, 2], strict=True):
        assert got["block"] == got["occurrence"] // 10**6
        assert got["event"] == {
            "contract": contract.lower(),
            "name": "Ping",
            "values": [value, base64.b64encode(b"ping").decode()],
        }
        assert got["data"] == {"from": "e2e"}
    assert _hex(events[-1]["txHash"]) == _hex(ping.tx_hash)
    filtered = [b["occurrence"] for b in receiver.of(jobs["filtered"])]
    assert filtered == [ping.included_in_block * 10**6 + 1]  # Ping(1, ...) only

    # the condition held from the block after arm(): one run per checked height, with the check's data
    heights = sorted(b["occurrence"] for b in receiver.of(jobs["condition"]))
    assert heights[0] > start
    assert all(b - a == 1 for a, b in itertools.pairwise(heights))
    assert {b["condition"]["data"] for b in receiver.of(jobs["condition"])} == {
        base64.b64encode(b"armed").decode()
    }

    assert shown["scannedBlock"] >= ping.included_in_block
    assert {r["block"] for r in shown["runs"]} >= {ping.included_in_block}
    assert all(r["txHash"] for r in shown["runs"])
