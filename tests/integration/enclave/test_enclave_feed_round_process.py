"""Feed rounds against a real enclave process with per-client tokens: the worker gets a round the enclave
fetched, aggregated and signed (``feed_round``); it cannot have the oracle key raw-sign a feed message it
wrote; the api cannot ask for a round at all."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from enclave_process_fakes import PeerEnclave
from tests.p256 import p256_verify as _verify
from tests.unit.enclave.loopback_http import LoopbackServer, json_route

from neo_service_layer.enclave.wire.feed_aggregation import SourceRules
from neo_service_layer.enclave.wire.feeds import FeedRoundFacts, FeedSource, FeedSources, round_message
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-feeds-0123456789",
    "worker": "worker-token-feeds-0123456",
    "cli": "cli-token-feeds-0123456789",
}
MAGIC = 860833102
CONTRACT = bytes(range(20, 40))


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-fd-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={
            "NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS),
            "NSL_ENCLAVE_TOKEN": "",
            "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
            "NSL_ORACLE_ALLOW_HTTP": "true",
        },
    )
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def oracle_key(enclave: PeerEnclave) -> SealedKey:
    """The platform oracle key as `nsl chain up` creates it (with the cli token)."""
    cli = EnclaveClient(enclave.socket_path, TOKENS["cli"], timeout=5)
    try:
        return await cli.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE]))
    finally:
        await cli.close()


@pytest.fixture
async def worker(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    client = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=5)
    yield client
    await client.close()


def _facts(round_id: int = 1) -> FeedRoundFacts:
    return FeedRoundFacts(MAGIC, CONTRACT, "NEO/USD", round_id, int(time.time() * 1000), 8, "NEO / USD")


def _sources(server: LoopbackServer) -> FeedSources:
    return FeedSources(
        (FeedSource("a", server.url("/a"), "$.price"), FeedSource("b", server.url("/b"), "$.last")),
        SourceRules(2, Decimal("0.05"), 8),
    )


async def test_the_worker_gets_a_round_the_enclave_fetched_and_signed(
    worker: EnclaveClient, oracle_key: SealedKey
) -> None:
    routes = {"/a": json_route({"price": "12.5"}), "/b": json_route({"last": 12.7})}
    async with LoopbackServer(routes) as server:
        facts, sources = _facts(), _sources(server)
        signed = await worker.feed_round(
            facts, sources, key_id=oracle_key.info.key_id, key_tenant=PLATFORM_KEY_OWNER
        )
        assert len(server.seen) == 2  # both exchanges, fetched by the enclave process
    assert signed.values == (("a", Decimal("12.5")), ("b", Decimal("12.7")))
    assert (signed.answer, signed.facts, signed.sources_digest) == (12_60000000, facts, sources.digest())
    assert signed.signature is not None
    _verify(oracle_key.info.public_key, signed.signature, round_message(facts, sources.digest(), 12_60000000))


async def test_the_worker_cannot_raw_sign_a_feed_round_it_wrote(
    worker: EnclaveClient, oracle_key: SealedKey
) -> None:
    """With the worker's token no feed round (V2 or V1) is raw-signed: the worker has no raw signing at
    all; only ``feed_round``, which fetched and aggregated the sources itself, signs one (the oracle key
    also refuses feed-shaped messages from any client: ``test_feed_round_op``)."""
    forged = round_message(_facts(), bytes(32), 1_000_000 * 10**8)
    for message in (forged, b"NSL-FEED-V1" + forged[15:]):
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign(
                oracle_key.info.key_id,
                message,
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign_batch(
                oracle_key.info.key_id,
                [b"harmless", message],
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )


async def test_the_api_cannot_ask_for_a_feed_round(enclave: PeerEnclave, oracle_key: SealedKey) -> None:
    api = EnclaveClient(enclave.socket_path, TOKENS["api"], timeout=5)
    try:
        async with LoopbackServer({"/a": json_route({"price": 1}), "/b": json_route({"last": 1})}) as server:
            with pytest.raises(OperationNotAllowed):
                await api.feed_round(
                    _facts(), _sources(server), key_id=oracle_key.info.key_id, key_tenant=PLATFORM_KEY_OWNER
                )
            assert server.seen == []
    finally:
        await api.close()
