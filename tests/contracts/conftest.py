"""Fixtures for contract tests: one neo-go privnet per session; contracts built and deployed once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.wallet import account

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings
from tests.contracts.contract_support import (
    BLOCK_TIME,
    Chain,
    Deployment,
    LocalRandomnessKeys,
    build_contracts,
    deploy_consumer,
    deploy_service,
    script,
)

#: above 2^31 (NeoVM integers are signed: see ``_u32`` in the randomness contract)
PRIVNET_MAGIC = 0xC0FFEE01


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chain(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chain]:
    build_contracts()
    # a magic of 2^31 or more: the randomness contract's u32le(magic) must not take the sign bit for one
    settings = PrivnetSettings(
        data_dir=tmp_path_factory.mktemp("privnet"), block_time=BLOCK_TIME, magic=PRIVNET_MAGIC
    )
    async with Privnet(settings) as net:
        facade = deploy.make_facade(net.rpc_url, BLOCK_TIME)
        committee = deploy.committee_invoker(facade, BLOCK_TIME)
        chain = Chain(net, facade, committee, committee, committee)
        chain.owner = chain.invoker(account.Account.create_new())
        chain.stranger = chain.invoker(account.Account.create_new())
        chain.operator = chain.invoker(account.Account.create_new())
        for who in (chain.owner.script_hash, chain.stranger.script_hash, chain.operator.script_hash):
            await deploy.fund(committee, who, 500 * deploy.GAS)
        assert await deploy.gas_balance(facade, chain.stranger.script_hash) == 500 * deploy.GAS
        yield chain


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def deployed(chain: Chain) -> Deployment:
    keys = LocalRandomnessKeys()
    service = await deploy_service(
        chain, chain.committee, chain.owner.script_hash, keys, operator=chain.operator.script_hash
    )
    dice = await deploy_consumer(chain, chain.committee, "dice_consumer", service)
    faulty = await deploy_consumer(chain, chain.committee, "faulty_consumer", service)
    await chain.committee.invoke(
        script(
            *[
                (
                    CONTRACT_HASHES.GAS_TOKEN,
                    "transfer",
                    [chain.committee.script_hash, service, 100 * deploy.GAS, consumer],
                )
                for consumer in (dice, faulty)
            ]
        )
    )
    return Deployment(service, dice, faulty, keys, chain.net.magic)
