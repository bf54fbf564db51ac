"""System fee (GAS) of each method of the randomness and oracle service contracts on a neo-go privnet.

Usage: ``python -m bench.contract_gas [--runs 3]``.

Builds the contracts, starts a neo-go 0.120 privnet (100 ms blocks, default fees), deploys the services
with a separate owner and operator (update delay 2 blocks, refund timeout 2 blocks) and the example
consumers, then sends every method ``--runs`` times as real transactions and reads the GAS each consumed
(system fee; the network fee, ~0.001-0.002 GAS, comes on top). Prints markdown: min and max over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from neo3.contracts.contract import CONTRACT_HASHES
from neo3.wallet import account
from tests.contracts.contract_support import (
    BLOCK_TIME,
    Chain,
    Deployment,
    LocalRandomnessKeys,
    artifact,
    build_contracts,
    call,
    deploy_consumer,
    deploy_service,
    events,
    fulfilment_args,
    request_via_faulty,
    script,
    wait_for_height,
)
from tests.contracts.test_contract_oracle import URL, OracleKey

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings

GAS = deploy.GAS
MAGIC = 0xC0FFEE01
DELAY = 2
REFUND = 2

Measure = Callable[[], Awaitable[int]]


async def _open(directory: Path) -> tuple[Privnet, Chain]:
    net = Privnet(PrivnetSettings(data_dir=directory, block_time=BLOCK_TIME, magic=MAGIC))
    await net.start()
    facade = deploy.make_facade(net.rpc_url, BLOCK_TIME)
    committee = deploy.committee_invoker(facade, BLOCK_TIME)
    chain = Chain(net, facade, committee, committee, committee)
    chain.owner, chain.stranger, chain.operator = (
        chain.invoker(account.Account.create_new()) for _ in range(3)
    )
    for who in (chain.owner, chain.stranger, chain.operator):
        await deploy.fund(committee, who.script_hash, 1000 * GAS)
    return net, chain


async def _randomness(chain: Chain, results: dict[str, list[int]], runs: int) -> None:
    keys = LocalRandomnessKeys()
    owner, operator = chain.owner.script_hash, chain.operator.script_hash
    service = await deploy_service(
        chain, chain.committee, owner, keys, operator=operator, delay=DELAY, refund_blocks=REFUND
    )
    dice = await deploy_consumer(chain, chain.committee, "dice_consumer", service)
    faulty = await deploy_consumer(chain, chain.committee, "faulty_consumer", service)
    d = Deployment(service, dice, faulty, keys, MAGIC)
    await chain.owner.invoke(call(service, "setCallbackGasCap", [10 * GAS]))  # 100 words need more
    for consumer in (dice, faulty):
        transfer = [chain.committee.script_hash, service, 200 * GAS, consumer]
        await chain.committee.invoke(call(CONTRACT_HASHES.GAS_TOKEN, "transfer", transfer))
    await chain.stranger.invoke(call(faulty, "setMode", [0]))

    async def send(name: str, invoker: deploy.AccountInvoker, contract_call: Any) -> Any:
        receipt = await invoker.invoke(contract_call)
        results[name].append(receipt.gas_consumed)
        return receipt

    for _ in range(runs):
        transfer = [chain.stranger.script_hash, service, GAS, None]
        await send(
            "GAS transfer → `onNEP17Payment` (whole transaction)",
            chain.stranger,
            call(CONTRACT_HASHES.GAS_TOKEN, "transfer", transfer),
        )
        me = chain.stranger.script_hash
        await send(
            "`withdraw(consumer, to, amount)` (an account consumer)",
            chain.stranger,
            call(service, "withdraw", [me, me, GAS // 2]),
        )
        receipt = await send(
            "`dice.roll()` → `request(1, …)` (whole transaction)", chain.stranger, call(dice, "roll")
        )
        rid, seed = (lambda e: (e[0].as_int(), e[3].as_bytes()))(events(receipt, "RandomnessRequested")[0])
        f = d.sign(rid, seed, dice)
        await send(
            "`fulfill` + `deliver` to the dice in one transaction",
            chain.stranger,
            script((service, "fulfill", [rid, *fulfilment_args(f)]), (service, "deliver", [rid])),
        )
        for words in (1, 10, 100):
            rid, seed = await request_via_faulty(chain, d, num_words=words)
            await send(
                f"`fulfill` (faulty consumer, {words} word(s))",
                chain.stranger,
                call(service, "fulfill", [rid, *fulfilment_args(d.sign(rid, seed))]),
            )
            await send(
                f"`deliver` alone, {words} word(s) (faulty consumer storing them)",
                chain.stranger,
                call(service, "deliver", [rid]),
            )
        await chain.stranger.invoke(call(faulty, "setMode", [2]))
        rid, seed = await request_via_faulty(chain, d)
        await chain.stranger.invoke(call(service, "fulfill", [rid, *fulfilment_args(d.sign(rid, seed))]))
        await send(
            "`markCallbackFailed` (operator)",
            chain.operator,
            call(service, "markCallbackFailed", [rid, "callback aborts"]),
        )
        await chain.stranger.invoke(call(faulty, "setMode", [0]))
        receipt = await chain.stranger.invoke(call(faulty, "requestRandom", [1, b""]))
        rid = events(receipt, "RandomnessRequested")[0][0].as_int()
        assert receipt.included_in_block is not None
        await wait_for_height(chain, receipt.included_in_block + REFUND)
        await send("`refund` (after the timeout)", chain.stranger, call(service, "refund", [rid]))
        collected = (await chain.read(service, "collectedFees")).as_int()
        await send("`withdrawFees` (owner)", chain.owner, call(service, "withdrawFees", [owner, collected]))
        deployer = chain.invoker(account.Account.create_new())  # a destroyed hash is never reused
        await deploy.fund(chain.committee, deployer.script_hash, 100 * GAS)
        spare = await deploy_service(chain, deployer, owner, keys, operator=operator, delay=DELAY)
        await _owner_delay(chain, send, "randomness_service", spare)


async def _owner_delay(chain: Chain, send: Any, name: str, contract: Any) -> None:
    nef, manifest = artifact(name)
    hashes = [hashlib.sha256(nef.read_bytes()).digest(), hashlib.sha256(manifest.read_bytes()).digest()]
    receipt = await send("`scheduleUpdate` (owner)", chain.owner, call(contract, "scheduleUpdate", hashes))
    assert receipt.included_in_block is not None
    await wait_for_height(chain, receipt.included_in_block + DELAY)
    await send(
        "`update` (owner, after the delay; hashes the NEF and manifest)",
        chain.owner,
        call(contract, "update", [nef.read_bytes(), manifest.read_text()]),
    )
    receipt = await send("`scheduleDestroy` (owner)", chain.owner, call(contract, "scheduleDestroy"))
    assert receipt.included_in_block is not None
    await wait_for_height(chain, receipt.included_in_block + DELAY)
    await send("`destroy` (owner, after the delay)", chain.owner, call(contract, "destroy"))


async def _oracle(chain: Chain, results: dict[str, list[int]], runs: int) -> None:
    key = OracleKey()
    nef, manifest = artifact("oracle_service")
    admin = [chain.owner.script_hash, chain.operator.script_hash, DELAY, REFUND]
    service = await deploy.deploy_contract(chain.committee, nef, manifest, [*admin, key.public_key])
    nef, manifest = artifact("price_consumer")
    price = await deploy.deploy_contract(chain.committee, nef, manifest, service)
    transfer = [chain.committee.script_hash, service, 200 * GAS, price]
    await chain.committee.invoke(call(CONTRACT_HASHES.GAS_TOKEN, "transfer", transfer))
    OracleKey.magic, OracleKey.service, OracleKey.consumer = MAGIC, service, price
    for _ in range(runs):
        for both in (True, False):
            receipt = await chain.stranger.invoke(call(price, "requestPrice", [URL, "$.price"]))
            results["oracle: `priceConsumer.requestPrice` → `request` (whole transaction)"].append(
                receipt.gas_consumed
            )
            rid = events(receipt, "OracleRequested")[0][0].as_int()
            fulfil = key.fulfil_args(rid, URL, "$.price", 0, b'"12.345"')
            if both:
                receipt = await chain.stranger.invoke(
                    script((service, "fulfill", fulfil), (service, "deliver", [rid]))
                )
                results["oracle: `fulfill` + `deliver` to the price consumer"].append(receipt.gas_consumed)
            else:
                receipt = await chain.stranger.invoke(call(service, "fulfill", fulfil))
                results["oracle: `fulfill` (8-byte result; unused bytes back to the balance)"].append(
                    receipt.gas_consumed
                )
                receipt = await chain.stranger.invoke(call(service, "deliver", [rid]))
                results["oracle: `deliver` alone (price consumer)"].append(receipt.gas_consumed)


async def main(runs: int) -> None:
    build_contracts()
    with tempfile.TemporaryDirectory(prefix="nsl-gas-") as directory:
        net, chain = await _open(Path(directory))
        try:
            results: dict[str, list[int]] = defaultdict(list)
            await _randomness(chain, results, runs)
            await _oracle(chain, results, runs)
        finally:
            await net.stop()
    print(f"| operation ({runs} runs) | GAS min | GAS max |\n| --- | --- | --- |")
    for name, values in results.items():
        print(f"| {name} | {min(values) / GAS:.4f} | {max(values) / GAS:.4f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
