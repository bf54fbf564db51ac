"""System fee (GAS) of each method of the randomness, oracle and price feed contracts on a neo-go privnet,
and what one answer of Neo's native Oracle costs next to them.

Usage: ``python -m bench.contract_gas [--runs 3]``.

Builds the contracts, starts a neo-go 0.120 privnet (100 ms blocks, default fees), deploys the services
with a separate owner and operator (update delay 2 blocks, refund timeout 2 blocks) and the example
consumers, then sends every method ``--runs`` times as real transactions and reads the GAS each consumed
(system fee; the network fee, ~0.001-0.002 GAS, comes on top). The native Oracle runs on a second
privnet whose own oracle service answers (``tests/e2e/chain/neogo_oracle.py``, an https URL on loopback):
the request transaction (the Oracle's request price and the response's GAS are charged to it) and the
response transaction the oracle node sends (its system and network fees come out of the GAS the request
attached; the execution is what the callback really used). Prints markdown: min and max over the runs.
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
from neo3.core import types
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
from tests.contracts.test_contract_feed import DESCRIPTION, PAIR, SOURCES, Feed, FeedKey
from tests.contracts.test_contract_oracle import URL, OracleKey
from tests.e2e.chain.neogo_oracle import neo_go_oracle
from tests.e2e.chain.tls_support import https_server, make_certificates

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
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


async def _feed(chain: Chain, results: dict[str, list[int]], runs: int) -> None:
    """One round per run submitted as the feed worker does (a signed round, whole transaction)."""
    key = FeedKey()
    nef, manifest = artifact("price_feed")
    owner, operator = chain.owner.script_hash, chain.operator.script_hash
    pairs = [[PAIR, SOURCES.digest(), 8, DESCRIPTION]]
    contract = await deploy.deploy_contract(
        chain.committee, nef, manifest, [owner, operator, DELAY, key.public_key, pairs]
    )
    feed = Feed(contract, key, MAGIC)
    for _ in range(runs):
        latest = (await chain.read(feed.contract, "latestRoundData", PAIR)).as_list()[0].as_int()
        receipt = await chain.stranger.invoke(
            call(feed.contract, "submit", feed.submit_args(latest + 1, 12_34000000))
        )
        assert receipt.result.state == "HALT", receipt.result.exception
        results["feed: `submit` of one signed round (whole transaction)"].append(receipt.gas_consumed)


NATIVE_PATH = "/ticker"


async def _answer_transaction(
    rpc_url: str, consumer: types.UInt160, tag: int, first: int
) -> tuple[int, int, int]:
    """System fee, network fee and GAS consumed of the response transaction that called the consumer back
    with ``tag`` (found in the block of its ``Answered`` event, scanning from block ``first``)."""
    endpoint = NeoRpcEndpoint(rpc_url)
    try:
        for _ in range(600):
            head = await endpoint.client.get_block_count() - 1
            while first <= head:
                events, _ = await endpoint.block_events(first, f"0x{consumer}")
                if any(e.name == "Answered" and int(e.values[0]) == tag for e in events):
                    for tx in (await endpoint.client.get_block(first)).transactions:
                        log = await endpoint.client.get_application_log_transaction(tx.hash())
                        if any(n.contract == consumer for n in log.execution.notifications):
                            return tx.system_fee, tx.network_fee, log.execution.gas_consumed
                first += 1
            await asyncio.sleep(0.1)
    finally:
        await endpoint.close()
    raise TimeoutError(f"no answer for tag {tag} within 60 s")


async def _native_oracle(results: dict[str, list[int]], runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="nsl-gas-tls-") as tls_dir:
        certificates = make_certificates(Path(tls_dir))
        with https_server(certificates) as web:
            web.routes[NATIVE_PATH] = {"price": 42.17}
            async with neo_go_oracle(certificates, BLOCK_TIME) as node:
                for tag in range(runs):
                    request = call(node.consumer, "request", [web.url(NATIVE_PATH), "$.price", tag, GAS])
                    receipt = await node.committee.invoke(request)
                    assert receipt.result.state == "HALT", receipt.result.exception
                    results[
                        "native Oracle: `request` (0.5 GAS price + 1 GAS for the response; whole transaction)"
                    ].append(receipt.gas_consumed)
                    system, network, used = await _answer_transaction(
                        node.rpc_url, node.consumer, tag, int(receipt.included_in_block)
                    )
                    results[
                        "native Oracle: response transaction, system + network fee (paid from the 1 GAS)"
                    ].append(system + network)
                    results["native Oracle: response transaction, GAS its execution used"].append(used)


async def main(runs: int) -> None:
    build_contracts()
    results: dict[str, list[int]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="nsl-gas-") as directory:
        net, chain = await _open(Path(directory))
        try:
            await _randomness(chain, results, runs)
            await _oracle(chain, results, runs)
            await _feed(chain, results, runs)
        finally:
            await net.stop()
    await _native_oracle(results, runs)
    print(f"| operation ({runs} runs) | GAS min | GAS max |\n| --- | --- | --- |")
    for name, values in results.items():
        print(f"| {name} | {min(values) / GAS:.4f} | {max(values) / GAS:.4f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
