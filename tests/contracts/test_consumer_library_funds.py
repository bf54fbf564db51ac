"""``contracts/lib/nsl_funds.py``'s fee helpers in ``examples/self_paying_consumer.py``, on a real neo-go
privnet, against the real randomness, oracle and compute service contracts.

A consumer holding GAS of its own pays the service from it: ``prepay`` moves exactly the amount,
``top_up`` / ``top_up_fee`` only the shortfall up to the price (nothing when the balance covers it),
``top_up_compute_fee`` up to ``feeFor(gasForCallback)`` (not ``fee()``), and the request made in the same
transaction is accepted with that balance as its escrow. Every GAS fraction that leaves the consumer
arrives in its balance at the service, and a consumer with too little GAS FAULTs with the helper's
refusal. ``fund_upkeep`` moves exactly the amount into the upkeep's balance at the real automation
contract (``send_message`` is exercised in ``tests/integration/crosschain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from neo3.api.wrappers import InvokeReceipt
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.wallet import account

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.automation.rules.triggers import IntervalBlocksTrigger, to_spec
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    LocalRandomnessKeys,
    artifact,
    call,
    deploy_service,
    events,
    fault_of,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS
REFUSAL = "GAS transfer to the service failed"
URL = "https://api.example.com/ticker?pair=NEOUSD"


@dataclass
class Paying:
    """A service and a self-paying consumer bound to it."""

    chain: Chain
    service: types.UInt160
    consumer: types.UInt160

    async def gas(self) -> int:
        """The consumer's own GAS."""
        return await deploy.gas_balance(self.chain.facade, self.consumer)

    async def balance(self) -> int:
        """The consumer's prepaid balance at the service."""
        return (await self.chain.read(self.service, "balanceOf", self.consumer)).as_int()

    async def read(self, method: str, *args: Any) -> int:
        return (await self.chain.read(self.service, method, *args)).as_int()

    async def invoke(self, method: str, *args: Any) -> InvokeReceipt[Any]:
        receipt = await self.chain.stranger.invoke(call(self.consumer, method, args))
        assert receipt.result.state == "HALT", receipt.result.exception
        return receipt

    async def refused(self, method: str, *args: Any) -> str:
        return fault_of(await self.chain.stranger.test(call(self.consumer, method, args)))

    async def moves(self, method: str, *args: Any) -> tuple[int, InvokeReceipt[Any]]:
        """Invoke ``method``; how much GAS left the consumer, checked to be exactly what its balance at
        the service gained plus what the call's request escrowed (``escrowed``: the service's total)."""
        gas, balance = await self.gas(), await self.balance()
        escrowed = await self.read("escrowedFees")
        receipt = await self.invoke(method, *args)
        moved = gas - await self.gas()
        gained = await self.balance() - balance + await self.read("escrowedFees") - escrowed
        assert moved == gained
        transfers = [
            (e[0].as_uint160(), e[1].as_uint160(), e[2].as_int()) for e in events(receipt, "Transfer")
        ]
        assert transfers == ([(self.consumer, self.service, moved)] if moved else [])
        return moved, receipt


async def _deployer(chain: Chain) -> deploy.AccountInvoker:
    """A fresh account: the same NEF and name deployed by the same sender get the same hash, and other
    tests of this session deploy these contracts from the committee."""
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 200 * GAS)
    return deployer


async def _consumer(chain: Chain, service: types.UInt160, gas: int) -> Paying:
    nef, manifest = artifact("self_paying_consumer")
    consumer = await deploy.deploy_contract(await _deployer(chain), nef, manifest, service)
    if gas:
        await deploy.fund(chain.committee, consumer, gas)
    return Paying(chain, service, consumer)


async def _service(chain: Chain, name: str) -> types.UInt160:
    """The oracle or compute service: [owner, operator, delay, refund blocks, public key]."""
    nef, manifest = artifact(name)
    admin = [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, REFUND_BLOCKS]
    data = [*admin, LocalRandomnessKeys().public_key]
    return await deploy.deploy_contract(await _deployer(chain), nef, manifest, data)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def randomness(chain: Chain) -> types.UInt160:
    deployer = await _deployer(chain)
    owner, operator = chain.owner.script_hash, chain.operator.script_hash
    return await deploy_service(chain, deployer, owner, LocalRandomnessKeys(), operator=operator)


def _requested(receipt: InvokeReceipt[Any], event: str) -> tuple[int, types.UInt160]:
    """(request id, consumer) of the request ``receipt`` made; the id is also what the call returned."""
    (requested,) = events(receipt, event)
    request_id = requested[0].as_int()
    assert receipt.result.stack[0].as_int() == request_id
    return request_id, requested[1].as_uint160()


async def test_prepay_and_top_up_move_exactly_what_the_fee_needs(
    chain: Chain, randomness: types.UInt160
) -> None:
    fee = (await chain.read(randomness, "fee")).as_int()
    p = await _consumer(chain, randomness, 2 * fee + 5)
    assert await p.balance() == 0

    moved, receipt = await p.moves("prepay", fee - 7)
    assert moved == fee - 7
    (credited,) = events(receipt, "BalanceCredited")  # credited to the consumer, not to the caller
    assert (credited[0].as_uint160(), credited[1].as_int()) == (p.consumer, fee - 7)
    assert await p.balance() == fee - 7

    assert (await p.moves("topUpFee"))[0] == 7  # the shortfall only
    assert await p.balance() == fee
    assert (await p.moves("topUpFee"))[0] == 0  # already covered: nothing moves
    assert (await p.moves("topUp", fee - 1))[0] == 0
    assert (await p.moves("topUp", fee + 3))[0] == 3
    assert await p.balance() == fee + 3

    # covered: the request takes its fee from the balance, no GAS moves, and it is accepted
    moved, receipt = await p.moves("requestRandomness", 1)
    assert moved == 0
    request_id, consumer = _requested(receipt, "RandomnessRequested")
    assert consumer == p.consumer
    assert await p.read("escrowOf", request_id) == fee
    assert await p.balance() == 3

    # not covered: the same call pays the shortfall from the consumer's GAS first
    moved, receipt = await p.moves("requestRandomness", 2)
    assert moved == fee - 3
    request_id, consumer = _requested(receipt, "RandomnessRequested")
    assert consumer == p.consumer
    assert await p.read("escrowOf", request_id) == fee
    assert await p.balance() == 0
    assert await p.gas() == 5

    # too little GAS: the helper's refusal, and nothing moves
    assert REFUSAL in await p.refused("requestRandomness", 1)
    assert REFUSAL in await p.refused("topUpFee")
    assert REFUSAL in await p.refused("prepay", 6)
    assert (await p.moves("prepay", 5))[0] == 5  # exactly what it has is fine
    assert await p.gas() == 0


async def test_top_up_fee_follows_the_oracle_services_current_fee(chain: Chain) -> None:
    service = await _service(chain, "oracle_service")
    p = await _consumer(chain, service, 10 * GAS)
    fee = await p.read("fee")
    moved, receipt = await p.moves("requestOracle", URL, "$.price")
    assert moved == fee
    request_id, consumer = _requested(receipt, "OracleRequested")
    assert consumer == p.consumer
    request = (await chain.read(service, "getRequest", request_id)).as_list()
    assert (request[0].as_int(), request[1].as_uint160(), request[2].as_str()) == (1, p.consumer, URL)
    assert await p.read("escrowOf", request_id) == fee

    base = await p.read("baseFee")
    await chain.owner.invoke(call(service, "setFee", [base + 1_000]))  # fee() read on each call
    assert await p.read("fee") == fee + 1_000
    moved, receipt = await p.moves("requestOracle", URL, "$.price")
    assert moved == fee + 1_000
    request_id, _ = _requested(receipt, "OracleRequested")
    assert await p.read("escrowOf", request_id) == fee + 1_000
    assert await p.balance() == 0

    poor = await _consumer(chain, service, fee)  # a GAS fraction short of the new fee
    assert REFUSAL in await poor.refused("requestOracle", URL, "$.price")


async def test_top_up_compute_fee_covers_the_price_for_the_callback_gas(chain: Chain) -> None:
    service = await _service(chain, "compute_service")
    p = await _consumer(chain, service, 10 * GAS)
    cap = await p.read("callbackGasCap")
    small = 2_000_000  # 0.02 GAS for the callback: far below the cap, so feeFor(small) < fee()
    price = await p.read("feeFor", small)
    assert price < await p.read("fee")

    assert (await p.moves("topUpComputeFee", small))[0] == price
    assert await p.balance() == price
    assert (await p.moves("topUpComputeFee", small))[0] == 0

    moved, receipt = await p.moves("requestCompute", "acme/median", b"[1,2,3]", small)
    assert moved == 0  # the balance covered it
    request_id, consumer = _requested(receipt, "ComputeRequested")
    assert consumer == p.consumer
    assert await p.read("escrowOf", request_id) == price
    assert await p.balance() == 0

    full = await p.read("feeFor", cap)
    moved, receipt = await p.moves("requestCompute", "acme/median", b"[1,2,3]", cap)
    assert moved == full
    request_id, _ = _requested(receipt, "ComputeRequested")
    assert await p.read("escrowOf", request_id) == full

    poor = await _consumer(chain, service, price - 1)
    assert REFUSAL in await poor.refused("requestCompute", "acme/median", b"", small)
    assert REFUSAL in await poor.refused("topUpComputeFee", small)


async def test_the_self_paying_consumers_callbacks_refuse_anyone_but_the_service(chain: Chain) -> None:
    not_calling = types.UInt160(bytes(range(1, 21)))
    p = await _consumer(chain, not_calling, 0)
    for method, args, refusal in (
        ("onRandomness", [1, [7], b""], "only the randomness service"),
        ("onOracleResponse", [1, 0, b"1", b""], "only the oracle service"),
        ("onComputeResult", [1, 0, b"1", b""], "only the compute service"),
    ):
        assert refusal in await p.refused(method, *args)
    refused = await chain.committee.test(
        call(CONTRACT_HASHES.NEO_TOKEN, "transfer", [chain.committee.script_hash, p.consumer, 1, None])
    )
    assert "only GAS is accepted" in fault_of(refused)


async def test_fund_upkeep_moves_exactly_the_amount_to_the_upkeep(chain: Chain) -> None:
    nef, manifest = artifact("automation_service")
    admin = [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, REFUND_BLOCKS]
    automation = await deploy.deploy_contract(await _deployer(chain), nef, manifest, admin)
    p = await _consumer(chain, automation, GAS + 5)
    kind, spec = to_spec(IntervalBlocksTrigger(1_000))
    owner = chain.stranger.script_hash
    registration = [owner, p.consumer, "answers", [], int(kind), spec, GAS, 0]
    upkeep = (await chain.stranger.invoke(call(automation, "registerUpkeep", registration))).result
    upkeep_id = upkeep.stack[0].as_int()

    async def upkeep_balance() -> int:
        return (await chain.read(automation, "getUpkeep", upkeep_id)).as_list()[11].as_int()

    receipt = await p.invoke("fundUpkeep", upkeep_id, GAS)
    assert await p.gas() == 5
    assert await upkeep_balance() == GAS
    (funded,) = events(receipt, "UpkeepFunded")
    assert [v.as_int() for v in funded] == [upkeep_id, GAS, GAS]
    (transfer,) = events(receipt, "Transfer")
    assert (transfer[0].as_uint160(), transfer[1].as_uint160(), transfer[2].as_int()) == (
        p.consumer,
        automation,
        GAS,
    )

    assert "GAS transfer to the automation contract failed" in await p.refused("fundUpkeep", upkeep_id, 6)
    assert "unknown upkeep" in await p.refused("fundUpkeep", upkeep_id + 1, 5)
    await p.invoke("fundUpkeep", upkeep_id, 5)
    assert (await p.gas(), await upkeep_balance()) == (0, GAS + 5)
