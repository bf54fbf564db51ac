"""ERC-20 transfer watches on a real anvil (Neo X locally), with the application as ``nsl run`` builds it
(the EVM chain configured, the real subscriptions store on SQLite and on PostgreSQL as the application
role): a watch created over the API starts at the chain's head; the worker's ``subscriptions-neox`` job
(the same ``ChainScanner`` over the EVM source, which reads ANY token's ``Transfer`` by the standard ABI)
publishes each transfer to the address once as ``transfer.erc20``, a mint as ``in``; a transfer between
other addresses is not heard; an ERC-721-shaped ``Transfer`` of a watched contract is left out; two
workers scanning the same blocks publish once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, EvmReceipt
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from neo_service_layer.services.subscriptions.service import subscription_jobs
from tests.anvil_support import Anvil, dev_account
from tests.http.appclient import app_client
from tests.http.keys.conftest import MovableClock
from tests.http.subscriptions.conftest import Api

pytestmark = [pytest.mark.slow]

OWNER, OTHER, WATCHED = dev_account(0), dev_account(1), dev_account(2)
ZERO = "0x" + "00" * 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path, anvil: Anvil
) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'nsl.db'}",
        "rate_limit_enabled": False,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 64,
        "password_hash_parallelism": 1,
        "evm_rpc_urls": [anvil.url],
        "evm_chain_id": anvil.chain_id,
    }
    if request.param == "postgres":
        values |= {"database_url": request.getfixturevalue("postgres_url"), "db_app_role": "nsl_app"}
    return make_settings(**values)


@pytest.fixture
async def chain(anvil: Anvil, evm_contracts_built: None) -> AsyncIterator[EvmChain]:
    found = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    try:
        yield found
    finally:
        await found.close()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings, clock=MovableClock())
    async with app_client(app) as client:
        yield Api(app, client, MovableClock())


class Token:
    def __init__(self, chain: EvmChain, address: str, artifact: str) -> None:
        self.chain, self.address = chain, address
        self._contract = chain.contract(address, load_artifact(artifact).abi)

    async def call(self, who: Any, function: str, *args: Any) -> EvmReceipt:
        data = self._contract.encode_abi(function, args=list(args))
        return await self.chain.send(LocalEvmSigner(who), self.address, bytes.fromhex(data[2:]))


def _neox_job(api: Api) -> PeriodicJob:
    [job] = [j for j in subscription_jobs(api.container) if j.name == "subscriptions-neox"]
    return job


async def test_erc20_transfers_to_a_watched_address_are_heard_once(api: Api, chain: EvmChain) -> None:
    token = Token(chain, await deploy(chain, LocalEvmSigner(OWNER), load_artifact("TestToken")), "TestToken")
    nft = Token(chain, await deploy(chain, LocalEvmSigner(OWNER), load_artifact("TestNft")), "TestNft")
    await token.call(OWNER, "mint", OWNER.address, 10**21)
    acme = await api.tenant("acme")

    async def watch(asset: str) -> dict[str, Any]:
        transfers = {"chain": "neox", "asset": asset, "address": WATCHED.address, "direction": "in"}
        source = {"types": ["transfer.erc20"], "transfers": transfers}
        body = {"name": "incoming", "source": source, "channel": {"stream": {}}}
        created = await acme.call("POST", "", json=body)
        assert created.status_code == 201, created.text
        return dict(created.json()["subscription"]["source"]["transfers"])

    shown = await watch(token.address)  # mixed-case (checksummed) in, lowercase stored
    assert shown["asset"] == token.address.lower()
    assert shown["startBlock"] == await chain.block_number()
    await watch(nft.address)  # an ERC-721-shaped Transfer: same topic, not an ERC-20 one
    # two workers' scanners, as `nsl run` wires them, both reading from the cursor at the head
    first, second = _neox_job(api), _neox_job(api)
    await asyncio.gather(first.run(), second.run())

    sent = [
        await token.call(OWNER, "transfer", WATCHED.address, 1),
        await token.call(OWNER, "transfer", OTHER.address, 50),  # between others: not heard
        await token.call(OWNER, "transfer", WATCHED.address, 2 * 10**20),
        await nft.call(OWNER, "transferFrom", OWNER.address, WATCHED.address, 7),  # left out
        await token.call(WATCHED, "transfer", OTHER.address, 3),  # out: not this watch's way
        await token.call(OWNER, "mint", WATCHED.address, 5),  # a mint: in
        await token.call(OWNER, "transfer", WATCHED.address, 4),
    ]
    # a process reads Neo X's head at most once per half poll interval (``SharedHeight``): seven
    # transactions on anvil can take less than that, so wait one poll interval, as a worker's tick does
    await asyncio.sleep(api.container.settings.evm_poll_interval_seconds)
    await asyncio.gather(first.run(), second.run(), first.run())
    await asyncio.gather(first.run(), second.run())  # scanned to the head: nothing more

    stored = await SqlSubscriptionStore(api.container.engine).events_after(acme.id, 0, 100)
    found = [e for e in stored if e.type.startswith("transfer.")]  # besides the key's audit event
    assert {e.type for e in found} == {"transfer.erc20"}
    datas = [json.loads(e.data) for e in found]
    watched, owner = WATCHED.address.lower(), OWNER.address.lower()
    assert [(d["from"], d["to"], d["amount"]) for d in datas] == [
        (owner, watched, "1"),
        (owner, watched, str(2 * 10**20)),
        (ZERO, watched, "5"),
        (owner, watched, "4"),
    ]
    heard = [sent[0], sent[2], sent[5], sent[6]]
    assert [(d["block"], d["txHash"]) for d in datas] == [(r.block_number, r.tx_hash) for r in heard]
    assert {d["asset"] for d in datas} == {token.address.lower()}
    assert all(d["logIndex"] == 0 and d["position"] == 0 for d in datas)  # one log per transaction
