"""The consumer library (``contracts/lib``) in the example contracts built on it, on a real neo-go privnet.

- ``nsl_feeds``: the feed consumer accepts a fresh round of the real feed contract and refuses the same
  round once the chain's block time has moved past the caller's max age; the stub feed hands it rounds
  the real feed never stores (fields missing, round 0, zero or negative answer, no update time).
- ``only_service``: every callback built on the library refuses a caller that is not the configured
  service contract (the callbacks' acceptance of the real service is in the services' own tests).
- ``only_gateway``: every cross-chain receiver built on the library refuses a caller that is not the
  configured message gateway (that another gateway cannot catch the refusal, and the real gateway's
  deliveries, are in ``tests/integration/crosschain``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_asyncio
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.wallet import account

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import BLOCK_TIME, UPDATE_DELAY, Chain, artifact, call, fault_of
from tests.contracts.test_contract_feed import DESCRIPTION, PAIR, SOURCES, Feed, FeedKey

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

#: the max age the consumer is asked for: some blocks of BLOCK_TIME
MAX_AGE_MS = 3_000
#: a max age no round of this test reaches
LONG_AGE_MS = 600_000
#: a made-up service hash: whatever calls the consumers in the refusal test, it is not this
NOT_CALLING = types.UInt160(bytes(range(1, 21)))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def feed(chain: Chain) -> Feed:
    key = FeedKey()
    nef, manifest = artifact("price_feed")
    configured = [[PAIR, SOURCES.digest(), 8, DESCRIPTION]]
    contract = await deploy.deploy_contract(
        await _fresh_deployer(chain),
        nef,
        manifest,
        [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, key.public_key, configured],
    )
    return Feed(contract, key, chain.net.magic)


async def _fresh_deployer(chain: Chain) -> deploy.AccountInvoker:
    """An account of its own: the same NEF and name deployed by the same sender get the same hash, and
    the other contract tests of this session deploy these contracts from the committee."""
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 50 * deploy.GAS)
    return deployer


async def _deploy(chain: Chain, name: str, data: Any) -> types.UInt160:
    nef, manifest = artifact(name)
    return await deploy.deploy_contract(await _fresh_deployer(chain), nef, manifest, data)


async def _price(chain: Chain, consumer: types.UInt160, max_age_ms: int, pair: str = PAIR) -> Any:
    return (await chain.stranger.test(call(consumer, "price", [pair, max_age_ms]))).result


async def _submit(chain: Chain, feed: Feed, answer: int) -> int:
    latest = (await chain.read(feed.contract, "latestRoundData", PAIR)).as_list()
    round_id = latest[0].as_int() + 1
    receipt = await chain.stranger.invoke(call(feed.contract, "submit", feed.submit_args(round_id, answer)))
    assert receipt.result.state == "HALT", receipt.result.exception
    return round_id


async def test_the_feed_consumer_refuses_a_stale_round_and_accepts_a_fresh_one(
    chain: Chain, feed: Feed
) -> None:
    consumer = await _deploy(chain, "feed_consumer", feed.contract)
    first = await _submit(chain, feed, 12_34000000)
    fresh = await _price(chain, consumer, MAX_AGE_MS)
    assert fresh.state == "HALT", fresh.exception
    assert fresh.stack[0].as_int() == 12_34000000

    # no new round: the chain's block time moves on until the same round is older than the max age
    for _ in range(int(60 / BLOCK_TIME)):
        stale = await _price(chain, consumer, MAX_AGE_MS)
        if stale.state == "FAULT":
            break
        assert stale.stack[0].as_int() == 12_34000000
        await asyncio.sleep(BLOCK_TIME)
    assert "stale price" in (stale.exception or "")
    latest = (await chain.read(feed.contract, "latestRoundData", PAIR)).as_list()
    assert latest[0].as_int() == first  # the same round: only its age changed
    kept = await _price(chain, consumer, LONG_AGE_MS)  # a caller allowing an older round still reads it
    assert kept.state == "HALT", kept.exception
    recorded = await chain.stranger.test(call(consumer, "recordPrice", [PAIR, MAX_AGE_MS]))
    assert "stale price" in fault_of(recorded)

    await _submit(chain, feed, 12_50000000)  # a new round: fresh again
    again = await _price(chain, consumer, MAX_AGE_MS)
    assert again.state == "HALT", again.exception
    assert again.stack[0].as_int() == 12_50000000
    receipt = await chain.stranger.invoke(call(consumer, "recordPrice", [PAIR, LONG_AGE_MS]))
    assert receipt.result.state == "HALT", receipt.result.exception
    assert (await chain.read(consumer, "lastPrice")).as_int() == 12_50000000


async def test_the_feed_consumer_refuses_incomplete_and_non_positive_rounds(chain: Chain) -> None:
    stub = await _deploy(chain, "stub_feed", None)
    consumer = await _deploy(chain, "feed_consumer", stub)
    block = await _block_time(chain, (await chain.read(CONTRACT_HASHES.LEDGER, "currentIndex")).as_int())
    cases: list[tuple[list[Any], str]] = [
        ([], "incomplete round"),
        ([1, 5_00000000, block], "incomplete round"),  # a field missing
        ([0, 5_00000000, block, block], "no price yet"),
        ([1, 5_00000000, 0, block], "incomplete round"),  # never started
        ([1, 5_00000000, block, 0], "incomplete round"),  # never updated
        ([1, 0, block, block], "zero or negative price"),
        ([1, -5_00000000, block, block], "zero or negative price"),
    ]
    for round_data, refusal in cases:
        stored = await chain.stranger.invoke(call(stub, "setRound", [PAIR, round_data]))
        assert stored.result.state == "HALT", stored.result.exception
        refused = await _price(chain, consumer, LONG_AGE_MS)
        assert refused.state == "FAULT", round_data
        assert refusal in (refused.exception or ""), (round_data, refused.exception)
    complete = await chain.stranger.invoke(call(stub, "setRound", [PAIR, [1, 5_00000000, block, block]]))
    assert complete.result.state == "HALT", complete.result.exception
    accepted = await _price(chain, consumer, LONG_AGE_MS)
    assert accepted.state == "HALT", accepted.exception
    assert accepted.stack[0].as_int() == 5_00000000
    negative_age = await _price(chain, consumer, -1)
    assert "max age must not be negative" in (negative_age.exception or "")


async def _block_time(chain: Chain, index: int) -> int:
    """The timestamp (ms) of block ``index``: a round updated then is as fresh as this chain allows."""
    block = await chain.read(CONTRACT_HASHES.LEDGER, "getBlock", index)
    return block.as_list()[4].as_int()


@pytest.mark.parametrize(
    ("name", "method", "args", "refusal"),
    [
        ("dice_consumer", "onRandomness", [1, [7], b"dice"], "only the randomness service"),
        ("faulty_consumer", "onRandomness", [1, [7], b""], "only the randomness service"),
        ("aborting_consumer", "onRandomness", [1, [7], b""], "only the randomness service"),
        ("price_consumer", "onOracleResponse", [1, 0, b"1", b""], "only the oracle service"),
        ("faulty_oracle_consumer", "onOracleResponse", [1, 0, b"1", b""], "only the oracle service"),
        ("compute_consumer", "onComputeResult", [1, 0, b"1", b""], "only the compute service"),
        ("faulty_compute_consumer", "onComputeResult", [1, 0, b"1", b""], "only the compute service"),
        ("automation_target", "tick", [], "only the automation contract may call this"),
    ],
)
async def test_a_callback_from_anyone_but_the_service_is_refused(
    chain: Chain, name: str, method: str, args: list[Any], refusal: str
) -> None:
    consumer = await _deploy(chain, name, NOT_CALLING)
    assert refusal in fault_of(await chain.stranger.test(call(consumer, method, args)))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("xmsg_echo_receiver", [NOT_CALLING, NOT_CALLING]),
        # it ABORTs on every message with a reason of its own: the gateway check must come first
        ("xmsg_aborting_receiver", NOT_CALLING),
    ],
)
async def test_a_message_from_anyone_but_the_gateway_is_refused(chain: Chain, name: str, data: Any) -> None:
    receiver = await _deploy(chain, name, data)
    forged = call(receiver, "onMessage", [31337, bytes(range(20)), 1, b"forged"])
    assert "only the message gateway" in fault_of(await chain.stranger.test(forged))
