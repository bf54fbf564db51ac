"""The ``feed_round`` op: the enclave fetches every source (loopback exchanges through a test ``Fetcher``
policy), aggregates, and signs a round bound to the network magic, the contract and the sources digest;
too few sources are refused; the oracle key refuses raw signing of any feed message."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loopback_http import LoopbackServer, json_route, raw_route
from tests.p256 import p256_verifies as verifies

from neo_service_layer.enclave.clients import WORKER, allowed_ops, check_allowed
from neo_service_layer.enclave.feeds import FeedRoundOp
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.feed_aggregation import SourceRules
from neo_service_layer.enclave.wire.feeds import (
    FeedRound,
    FeedRoundFacts,
    FeedSource,
    FeedSources,
    round_message,
)
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args

FETCHER = Fetcher(GuardPolicy.of(["127.0.0.1"], allow_http=True))
NOW = 1_700_000_000.5
NOW_MS = int(NOW * 1000)
MAGIC = 2**32 - 3
CONTRACT = bytes(range(100, 120))


@pytest.fixture
def feed_key(keystore: KeyStore) -> str:
    policy = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE])
    return keystore.create(KeyKind.SECP256R1, policy).info.key_id


@pytest.fixture
def op(keystore: KeyStore) -> FeedRoundOp:
    return FeedRoundOp(keystore, FETCHER, clock=lambda: NOW)


def facts(round_id: int = 3, started_ms: int = NOW_MS, magic: int = MAGIC) -> FeedRoundFacts:
    return FeedRoundFacts(magic, CONTRACT, "NEO/USD", round_id, started_ms, 8, "NEO / US dollar")


def sources(server: LoopbackServer, quorum: int = 2) -> FeedSources:
    return FeedSources(
        (
            FeedSource("a", server.url("/a"), "$.price"),
            FeedSource("b", server.url("/b"), "$.data.last"),
            FeedSource("c", server.url("/c"), "$.result[0].p"),
        ),
        SourceRules(quorum, Decimal("0.05"), 8),
    )


def args(key_id: str, round_facts: FeedRoundFacts, feed_sources: FeedSources, **extra: Any) -> Args:
    return Args(
        {
            "facts": round_facts.to_dict(),
            "sources": feed_sources.to_dict(),
            "key_id": key_id,
            "key_tenant": PLATFORM_KEY_OWNER,
            **extra,
        }
    )


EXCHANGES = {
    "/a": json_route({"price": "100.0"}),
    "/b": json_route({"data": {"last": 100.2}}),
    "/c": raw_route(b'{"result": [{"p": 99.8}]}', "application/json"),
}


async def test_the_enclave_fetches_aggregates_and_signs_the_round(
    op: FeedRoundOp, keystore: KeyStore, feed_key: str
) -> None:
    async with LoopbackServer(dict(EXCHANGES)) as server:
        feed = sources(server)
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), feed)))
        assert {seen.target for seen in server.seen} == {"/a", "/b", "/c"}  # each source, by the enclave
    assert answer.values == (("a", Decimal("100.0")), ("b", Decimal("100.2")), ("c", Decimal("99.8")))
    assert answer.round is not None
    assert (answer.round.answer, answer.round.used) == (Decimal("100.00000000"), ("a", "b", "c"))
    assert (answer.answer, answer.refusal, answer.facts) == (100 * 10**8, "", facts())
    assert answer.sources_digest == feed.digest()
    assert answer.signature is not None
    info = keystore.info(feed_key)
    assert (answer.public_key, answer.key_version) == (info.public_key, 1)
    assert verifies(info.public_key, answer.signature, round_message(facts(), feed.digest(), 100 * 10**8))


async def test_the_signature_binds_magic_contract_round_and_the_sources_digest(
    op: FeedRoundOp, feed_key: str
) -> None:
    async with LoopbackServer(dict(EXCHANGES)) as server:
        feed = sources(server)
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), feed)))
        other_sources = FeedSources(
            (*feed.sources[:2], FeedSource("c", server.url("/elsewhere"), "$.result[0].p")), feed.rules
        )
    assert answer.signature is not None
    public_key, signature, value = answer.public_key, answer.signature, 100 * 10**8
    assert verifies(public_key, signature, round_message(facts(), feed.digest(), value))
    for bound, digest in (
        (facts(magic=MAGIC - 1), feed.digest()),
        (FeedRoundFacts(MAGIC, bytes(20), "NEO/USD", 3, NOW_MS, 8, "NEO / US dollar"), feed.digest()),
        (facts(round_id=4), feed.digest()),
        (facts(), other_sources.digest()),
    ):
        assert not verifies(public_key, signature, round_message(bound, digest, value))
    assert other_sources.digest() != feed.digest()


async def test_too_few_sources_are_refused_and_nothing_is_signed(op: FeedRoundOp, feed_key: str) -> None:
    routes = {
        "/a": json_route({"price": "100.0"}),
        "/b": raw_route(b'{"error": "down"}', "application/json", status=500),
        "/c": json_route({"result": [{"p": "not a number"}]}),
    }
    async with LoopbackServer(routes) as server:
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), sources(server))))
    assert (answer.round, answer.answer, answer.signature) == (None, None, None)
    assert answer.refusal == "1 of 3 sources answered; quorum is 2"
    assert answer.values == (("a", Decimal("100.0")), ("b", None), ("c", None))


async def test_sources_that_disagree_are_refused(op: FeedRoundOp, feed_key: str) -> None:
    routes = {
        "/a": json_route({"price": 100}),
        "/b": json_route({"data": {"last": 130}}),
        "/c": json_route({"result": [{"p": 160}]}),
    }
    async with LoopbackServer(routes) as server:
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), sources(server))))
    assert answer.signature is None
    assert "agree within the outlier distance" in answer.refusal


async def test_a_source_the_guard_refuses_counts_as_missing(op: FeedRoundOp, feed_key: str) -> None:
    async with LoopbackServer(dict(EXCHANGES)) as server:
        feed = sources(server)
        guarded = FeedSources(
            (*feed.sources[:2], FeedSource("c", "http://169.254.169.254/latest/meta-data", "$.p")), feed.rules
        )
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), guarded)))
    assert answer.values[2] == ("c", None)
    assert answer.round is not None
    assert answer.round.missing == ("c",)
    assert answer.sources_digest == guarded.digest()


async def test_a_non_positive_answer_is_refused(op: FeedRoundOp, feed_key: str) -> None:
    zero = json_route({"price": 0, "data": {"last": 0}, "result": [{"p": 0}]})
    async with LoopbackServer({"/a": zero, "/b": zero, "/c": zero}) as server:
        answer = FeedRound.from_dict(await op(args(feed_key, facts(), sources(server))))
    assert answer.round is not None
    assert (answer.answer, answer.signature) == (None, None)
    assert "positive" in answer.refusal


@pytest.mark.parametrize("offset_ms", [-300_001, 300_001])
async def test_a_start_far_from_the_enclave_clock_is_refused(
    op: FeedRoundOp, feed_key: str, offset_ms: int
) -> None:
    async with LoopbackServer(dict(EXCHANGES)) as server:
        with pytest.raises(InvalidKeyRequest, match="enclave's clock"):
            await op(args(feed_key, facts(started_ms=NOW_MS + offset_ms), sources(server)))
        assert server.seen == []  # refused before anything is fetched


async def test_bad_definitions_and_keys_are_refused_before_fetching(
    op: FeedRoundOp, keystore: KeyStore, feed_key: str
) -> None:
    async with LoopbackServer(dict(EXCHANGES)) as server:
        feed = sources(server).to_dict()
        for bad in (
            {**feed, "quorum": 4},  # more than the sources
            {**feed, "quorum": 0},
            {**feed, "max_outlier_distance": "NaN"},
            {**feed, "sources": []},
            {**feed, "sources": [feed["sources"][0]] * 2},  # names must be unique
        ):
            with pytest.raises(InvalidKeyRequest):
                await op(Args({"facts": facts().to_dict(), "sources": bad, "key_id": feed_key,
                               "key_tenant": PLATFORM_KEY_OWNER}))  # fmt: skip
        ed25519 = keystore.create(KeyKind.ED25519, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE]))
        with pytest.raises(InvalidKeyRequest, match="secp256r1"):
            await op(args(ed25519.info.key_id, facts(), sources(server)))
        assert server.seen == []
        with pytest.raises(PolicyDenied, match="another tenant"):
            await op(args(feed_key, facts(), sources(server), key_tenant="acme"))


def test_the_sources_digest_is_canonical() -> None:
    a, b = FeedSource("a", "https://a.example/t", "$.p"), FeedSource("b", "https://b.example/t", "$.q")
    rules = SourceRules(2, Decimal("0.05"), 8)
    digest = FeedSources((a, b), rules).digest()
    assert FeedSources((b, a), rules).digest() == digest  # configuration order does not matter
    assert FeedSources((a, b), SourceRules(2, Decimal("0.050"), 8)).digest() == digest
    # decimals are signed in the round message, apart from the digest
    assert FeedSources((a, b), SourceRules(2, Decimal("0.05"), 6)).digest() == digest
    for changed in (
        FeedSources((a, FeedSource("b", "https://b.example/u", "$.q")), rules),
        FeedSources((a, FeedSource("b", "https://b.example/t", "$.r")), rules),
        FeedSources((a, FeedSource("c", "https://b.example/t", "$.q")), rules),
        FeedSources((a, b), SourceRules(1, Decimal("0.05"), 8)),
        FeedSources((a, b), SourceRules(2, Decimal("0.1"), 8)),
        FeedSources((a,), SourceRules(1, Decimal("0.05"), 8)),
    ):
        assert changed.digest() != digest


def test_raw_sign_refuses_feed_messages(keystore: KeyStore, feed_key: str) -> None:
    """The worker cannot have the oracle key sign a round it chose: any ``NSL-FEED-`` message is refused."""
    digest = bytes(32)
    for message in (round_message(facts(), digest, 1), b"NSL-FEED-V1" + bytes(60)):
        with pytest.raises(PolicyDenied, match="feed_round"):
            keystore.sign(
                feed_key, [message], tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )  # fmt: skip


async def test_feed_round_is_dispatched_and_on_the_workers_list_only(
    keystore: KeyStore, sealer: Sealer, feed_key: str, tmp_path: Path
) -> None:
    ops = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keystore, fetcher=FETCHER)
    assert "feed_round" in allowed_ops(WORKER)
    assert [c for c in ("api", "cli") if "feed_round" in allowed_ops(c)] == []
    async with LoopbackServer(dict(EXCHANGES)) as server:
        started = facts(started_ms=0)  # the real clock: far from 0, refused, but only after dispatch
        request = args(feed_key, started, sources(server))
        check_allowed(WORKER, "feed_round", request)
        with pytest.raises(OperationNotAllowed, match="platform key"):
            check_allowed(WORKER, "feed_round", args(feed_key, started, sources(server), key_tenant="acme"))
        with pytest.raises(OperationNotAllowed):
            check_allowed("api", "feed_round", request)
        pending = ops.dispatch("feed_round", request)
        assert not isinstance(pending, dict)
        with pytest.raises(InvalidKeyRequest, match="enclave's clock"):
            await pending
