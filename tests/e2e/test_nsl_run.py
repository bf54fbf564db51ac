"""``nsl run`` end to end: chain, enclave, worker and API come up, a roll is answered, Ctrl-C stops all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from neo_service_layer.adapters.neo import privnet_deploy as deploy
from neo_service_layer.adapters.neo.privnet import find_free_port
from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.stack import call

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def processes_of(data_dir: Path) -> list[int]:
    """Processes whose environment or command line names ``data_dir`` (our children and the node)."""
    marker = str(data_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes() or marker in (proc / "cmdline").read_bytes():
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


async def test_nsl_run_serves_a_roll_and_stops_cleanly() -> None:
    build_contracts()
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-run-"))
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(
        NSL_DATA_DIR=str(data_dir),
        NSL_HTTP_PORT=str(port),
        NSL_NEO_BLOCK_TIME_SECONDS="0.2",
        NSL_LOG_FORMAT="json",
    )
    with (data_dir / "run.log").open("ab") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                assert runner.poll() is None, (data_dir / "run.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "nsl run did not come up"
                try:
                    ready = await client.get("/health/ready")
                    if ready.json()["components"].get("chain", {}).get("status") == "up":
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        network = json.loads((data_dir / "network.json").read_text())
        facade = deploy.make_facade(network["rpc_url"], network["block_time"])
        committee = deploy.committee_invoker(facade, network["block_time"])
        from neo_service_layer.adapters.neo.chain import uint160
        from neo_service_layer.adapters.neo.local_chain import artifact

        service = uint160(network["contracts"]["randomness"])
        nef, manifest = artifact("dice_consumer")
        dice = await deploy.deploy_contract(committee, nef, manifest, service)
        from neo3.contracts.contract import CONTRACT_HASHES

        await committee.invoke(
            call(CONTRACT_HASHES.GAS_TOKEN, "transfer", committee.script_hash, service, 5 * deploy.GAS, dice)
        )
        receipt = await committee.invoke(call(dice, "roll"))
        request_id = receipt.result.stack[0].as_int()
        for _ in range(100):
            result = (await committee.test(call(dice, "getRoll", request_id))).result.stack[0].as_int()
            if result:
                break
            await asyncio.sleep(0.1)
        assert 1 <= result <= 6, "the roll's callback arrived"
    finally:
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
    assert code == 0
    deadline = time.monotonic() + 10
    while processes_of(data_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert processes_of(data_dir) == [], "no process of this run is left"
    shutil.rmtree(data_dir, ignore_errors=True)
