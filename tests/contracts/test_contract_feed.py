"""The price feed contract on a real neo-go privnet: a round is accepted only when signed over this
network's magic, this contract, and the sources digest, decimals and description the owner set for the pair.

Rounds are signed with a python ``cryptography`` secp256r1 key over
``neo_service_layer.enclave.wire.feeds.round_message`` (what the enclave's ``feed_round`` signs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from neo3.core import types

from neo_service_layer.enclave.wire.feed_aggregation import SourceRules
from neo_service_layer.enclave.wire.feeds import FeedRoundFacts, FeedSource, FeedSources, round_message
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import UPDATE_DELAY, Chain, artifact, call, events, fault_of

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

PAIR = "NEO/USD"
DESCRIPTION = "NEO / US dollar"
SOURCES = FeedSources(
    (
        FeedSource("a", "https://a.example/ticker", "$.price"),
        FeedSource("b", "https://b.example/ticker", "$.last"),
    ),
    SourceRules(2, Decimal("0.05"), 8),
)
OTHER_SOURCES = FeedSources(
    (
        FeedSource("a", "https://a.example/ticker", "$.price"),
        FeedSource("b", "https://attacker.example/ticker", "$.last"),
    ),
    SourceRules(2, Decimal("0.05"), 8),
)


class FeedKey:
    """Stands in for the enclave's oracle key (secp256r1, ECDSA over SHA-256, r||s)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass
class Feed:
    contract: types.UInt160
    key: FeedKey
    magic: int

    def submit_args(
        self,
        round_id: int,
        answer: int,
        *,
        started_ms: int | None = None,
        magic: int | None = None,
        contract: types.UInt160 | None = None,
        sources: FeedSources = SOURCES,
        pair: str = PAIR,
        decimals: int = 8,
        description: str = DESCRIPTION,
    ) -> list[Any]:
        """``submit`` arguments of a round signed as the enclave would, bound to what is given."""
        started = int(time.time() * 1000) if started_ms is None else started_ms
        facts = FeedRoundFacts(
            self.magic if magic is None else magic,
            (contract or self.contract).to_array(),  # NeoVM's byte order
            pair,
            round_id,
            started,
            decimals,
            description,
        )
        signature = self.key.sign(round_message(facts, sources.digest(), answer))
        return [pair, round_id, answer, started, signature]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def feed(chain: Chain) -> Feed:
    key = FeedKey()
    nef, manifest = artifact("price_feed")
    configured = [[PAIR, SOURCES.digest(), 8, DESCRIPTION]]
    contract = await deploy.deploy_contract(
        chain.committee,
        nef,
        manifest,
        [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, key.public_key, configured],
    )
    return Feed(contract, key, chain.net.magic)


async def fault(chain: Chain, feed: Feed, args: list[Any]) -> str:
    return fault_of(await chain.stranger.test(call(feed.contract, "submit", args)))


async def latest(chain: Chain, feed: Feed, pair: str = PAIR) -> list[int]:
    return [item.as_int() for item in (await chain.read(feed.contract, "latestRoundData", pair)).as_list()]


async def test_the_deploy_sets_the_configured_feed(chain: Chain, feed: Feed) -> None:
    digest, decimals, description = (await chain.read(feed.contract, "feed", PAIR)).as_list()
    assert (digest.as_bytes(), decimals.as_int(), description.as_str()) == (SOURCES.digest(), 8, DESCRIPTION)
    assert (await chain.read(feed.contract, "decimals", PAIR)).as_int() == 8
    assert (await chain.read(feed.contract, "description", PAIR)).as_str() == DESCRIPTION
    assert (await chain.read(feed.contract, "feed", "GAS/USD")).as_list() == []


async def test_a_round_bound_to_another_network_contract_or_sources_faults(chain: Chain, feed: Feed) -> None:
    round_id = (await latest(chain, feed))[0] + 1
    for forged in (
        feed.submit_args(round_id, 12 * 10**8, magic=feed.magic ^ 1),
        feed.submit_args(round_id, 12 * 10**8, contract=types.UInt160(bytes(range(20)))),
        feed.submit_args(round_id, 12 * 10**8, sources=OTHER_SOURCES),
        feed.submit_args(round_id, 12 * 10**8, decimals=6),
        feed.submit_args(round_id, 12 * 10**8, description="NEO / USD (forged)"),
    ):
        assert "invalid signature" in await fault(chain, feed, forged)
    unconfigured = feed.submit_args(1, 12 * 10**8, pair="GAS/USD")
    assert "the owner has not set this feed" in await fault(chain, feed, unconfigured)
    old = feed.submit_args(round_id, 12 * 10**8, started_ms=int(time.time() * 1000) - 3_600_000)
    assert "round is too old" in await fault(chain, feed, old)


async def test_a_genuine_round_halts_and_is_stored(chain: Chain, feed: Feed) -> None:
    round_id = (await latest(chain, feed))[0] + 1
    args = feed.submit_args(round_id, 12_34000000)
    receipt = await chain.stranger.invoke(call(feed.contract, "submit", args))
    assert receipt.result.state == "HALT", receipt.result.exception
    (updated,) = events(receipt, "FeedUpdated")
    assert (updated[0].as_str(), updated[1].as_int(), updated[2].as_int()) == (PAIR, round_id, 12_34000000)
    assert (await latest(chain, feed))[:3] == [round_id, 12_34000000, args[3]]
    replayed = await fault(chain, feed, args)  # the same round again
    assert "roundId must be the latest round + 1" in replayed


async def test_only_the_owner_sets_a_feed_and_rounds_follow_its_sources(chain: Chain, feed: Feed) -> None:
    new = [PAIR, OTHER_SOURCES.digest(), 8, DESCRIPTION]
    refused = await chain.stranger.test(call(feed.contract, "setFeed", new))
    assert "only the owner" in fault_of(refused)
    changed_decimals = await chain.owner.test(call(feed.contract, "setFeed", [PAIR, SOURCES.digest(), 6, ""]))
    assert "decimals of a pair never change" in fault_of(changed_decimals)

    receipt = await chain.owner.invoke(call(feed.contract, "setFeed", new))
    assert receipt.result.state == "HALT", receipt.result.exception
    (configured,) = events(receipt, "FeedConfigured")
    assert configured[1].as_bytes() == OTHER_SOURCES.digest()
    round_id = (await latest(chain, feed))[0] + 1
    assert "invalid signature" in await fault(chain, feed, feed.submit_args(round_id, 13 * 10**8))
    accepted = feed.submit_args(round_id, 13 * 10**8, sources=OTHER_SOURCES)
    receipt = await chain.stranger.invoke(call(feed.contract, "submit", accepted))
    assert receipt.result.state == "HALT", receipt.result.exception
    restore = await chain.owner.invoke(
        call(feed.contract, "setFeed", [PAIR, SOURCES.digest(), 8, DESCRIPTION])
    )
    assert restore.result.state == "HALT", restore.result.exception
