"""neo-go's backup ``ConsensusUnreachable`` response on chain: two of our nodes designated (2 of 2), the
second one down (no API, no worker) until the first node's main response expired unsigned by it.

The privnet's ``MaxValidUntilBlockIncrement`` is small (``INCREMENT`` blocks of 100 ms; the committee's
transactions are valid for 100 blocks, so it cannot be smaller), so the main response, valid until the
request's block + ``INCREMENT`` (neo-go ``processRequest``), expires within seconds. Then the second node
starts; both enclaves build the backup response (code ``ConsensusUnreachable``, no result, valid until
the request's block + 2 x ``INCREMENT``), the nodes hand each other their signatures and the backup lands:
one ``OracleResponse``, one callback with that code, and no other response afterwards.

The same with neo-go's own oracle service as the other designated node: the backup our enclave builds is
the transaction neo-go builds for a request it processes after the main response expired."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from neo3.api import noderpc
from neo3.core import types
from neo3.network.payloads import transaction
from sqlalchemy import func, select

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.privnet import DEV_VALIDATOR_PUBLIC_KEY, Privnet, find_free_port
from neo_service_layer.kernel.db.tables import worker_heartbeats
from neo_service_layer.services.native_oracle.adapters.node import designate_oracles
from neo_service_layer.services.native_oracle.adapters.tables import native_oracle_pending
from neo_service_layer.services.native_oracle.rules import NeoResponseCode
from tests.e2e.chain.neogo_oracle import OraclePrivnet
from tests.e2e.chain.stack import Stack, call, close_stack, open_stack, wait_for
from tests.e2e.chain.test_native_oracle_e2e import oracle_events, oracle_transactions, wait_delivered
from tests.e2e.chain.test_native_oracle_our_nodes_e2e import (
    SecondNode,
    open_second_node,
    signers_of,
    start_worker,
    view,
)
from tests.e2e.chain.test_native_oracle_peers_e2e import start_api
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]

#: ``MaxValidUntilBlockIncrement`` of this privnet: above the committee's 100-block window, 11 s of blocks
INCREMENT = 110


def short_window(path: Path, oracle_nodes: list[str] | None = None) -> Path:
    """Set ``MaxValidUntilBlockIncrement`` (a protocol setting of neo-go) in the node's configuration, and
    the RPC endpoints neo-go's oracle service hands its signatures to."""
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    config["ProtocolConfiguration"]["MaxValidUntilBlockIncrement"] = INCREMENT
    if oracle_nodes is not None:
        config["ApplicationConfiguration"]["Oracle"]["Nodes"] = oracle_nodes
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class ShortWindowPrivnet(Privnet):
    """The local node with a small ``MaxValidUntilBlockIncrement``."""

    def configure(self) -> Path:
        return short_window(super().configure())


async def height(stack: Stack) -> int:
    async with noderpc.NeoRpcClient(stack.net.rpc_url, timeout=10.0) as client:
        return int(await client.get_block_count()) - 1


async def pending_response(stack: Stack, request_id: int) -> transaction.OracleResponse | None:
    """The ``OracleResponse`` attribute of the transaction the first node keeps waiting for signatures."""
    async with stack.engine.connect() as conn:
        row = (
            await conn.execute(
                select(native_oracle_pending.c.raw, native_oracle_pending.c.valid_until_block).where(
                    native_oracle_pending.c.request_id == request_id
                )
            )
        ).first()
    if row is None:
        return None
    tx = transaction.Transaction.deserialize_from_bytes(bytes(row.raw))
    assert tx.valid_until_block == row.valid_until_block
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    return attribute


async def pending_valid_until(stack: Stack, request_id: int) -> int | None:
    async with stack.engine.connect() as conn:
        found = await conn.scalar(
            select(native_oracle_pending.c.valid_until_block).where(
                native_oracle_pending.c.request_id == request_id
            )
        )
    return None if found is None else int(found)


async def last_heartbeat(stack: Stack) -> Any:
    """The newest worker heartbeat (``None``: none yet)."""
    async with stack.engine.connect() as conn:
        return await conn.scalar(select(func.max(worker_heartbeats.c.last_seen_at)))


async def assert_answered_once(stack: Stack, consumer: types.UInt160, first_block: int) -> None:
    """20 blocks on, still one ``OracleResponse`` since ``first_block`` and one callback."""
    settled = await height(stack) + 20

    async def settled_reached() -> bool:
        return await height(stack) >= settled

    await wait_for(settled_reached, 20, f"block {settled}")
    assert await oracle_events(stack, first_block, "OracleResponse") == {0: 1}
    assert (await stack.read(consumer, "answers")).as_int() == 1


async def test_a_response_expired_for_want_of_signatures_is_answered_by_the_backup_response(
    contracts_built: None, certificates: LoopbackCertificates
) -> None:
    stack = await open_stack(
        privnet=ShortWindowPrivnet,
        oracle_allow_hosts="127.0.0.1",
        oracle_ca_file=str(certificates.ca_file),
    )
    second: SecondNode | None = None
    try:
        with https_server(certificates) as web:
            second = await open_second_node(stack)
            first_key = bytes.fromhex(stack.network.service_keys["native_oracle"])
            keys = [first_key, second.public_key]
            await designate_oracles(stack.committee, keys)
            web.routes["/ticker"] = {"price": 42.17}
            nef, manifest = artifact("native_oracle_consumer")
            consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
            first_block = stack.network.deployed_height
            ports = find_free_port(), find_free_port()
            rpc = [f"http://127.0.0.1:{port}/api/v1/native-oracle/rpc" for port in ports]
            await start_api(stack, ports[0])
            beat = await last_heartbeat(stack)
            stack.start_worker(NSL_NEO_ORACLE_PEERS=rpc[1])  # the second node is down: nothing answers

            async def worker_running() -> bool:  # the main response has only 11 s of blocks to be made
                return await last_heartbeat(stack) != beat

            await wait_for(worker_running, 60, "the worker's first heartbeat")

            receipt = await stack.committee.invoke(
                call(consumer, "request", web.url("/ticker"), "$.price", 5, deploy.GAS)
            )
            request_block = int(receipt.included_in_block)
            main_until = request_block + INCREMENT

            async def main_kept() -> bool:
                return await pending_valid_until(stack, 0) == main_until

            await wait_for(main_kept, 20, "the first node's main response, waiting for a second signature")
            main = await pending_response(stack, 0)
            assert main is not None
            assert (int(main.code), main.result) == (NeoResponseCode.SUCCESS, b"[42.17]")

            async def main_expired() -> bool:
                return await height(stack) >= main_until

            await wait_for(main_expired, INCREMENT * 0.3, f"block {main_until}: the main response expired")
            backup_until = request_block + 2 * INCREMENT

            async def backup_kept() -> bool:
                return await pending_valid_until(stack, 0) == backup_until

            await wait_for(backup_kept, 20, "the first node's backup response")
            backup = await pending_response(stack, 0)
            assert backup is not None
            assert (int(backup.code), backup.result) == (NeoResponseCode.CONSENSUS_UNREACHABLE, b"")
            assert (await stack.read(consumer, "answers")).as_int() == 0
            assert await oracle_events(stack, first_block, "OracleResponse") == {}

            # the second node comes up: its enclave builds the same backup response
            stack.workers.append(start_worker(second.env, second.directory, rpc[0]))
            await start_api(view(stack, second), ports[1])

            async def answered() -> bool:
                return bool((await stack.read(consumer, "answers")).as_int() >= 1)

            await wait_for(answered, 30, "the backup response's callback")
            await wait_delivered(stack, 0)
            assert (await stack.read(consumer, "lastCode")).as_int() == NeoResponseCode.CONSENSUS_UNREACHABLE
            assert (await stack.read(consumer, "lastResult")).value == b""
            (tx,) = (await oracle_transactions(stack, first_block)).values()
            (attribute,) = tx.attributes
            assert isinstance(attribute, transaction.OracleResponse)
            assert (attribute.id, int(attribute.code), attribute.result) == (
                0,
                NeoResponseCode.CONSENSUS_UNREACHABLE,
                b"",
            )
            # the request block + k increments above the height it was built at (k = 2 unless the second
            # node came up after block ``backup_until``: both then build it again one increment later)
            assert tx.valid_until_block >= backup_until
            assert (tx.valid_until_block - request_block) % INCREMENT == 0
            assert signers_of(tx, stack.net.magic, keys) == set(keys)

            # nothing else lands: the request is gone from the native contract, both nodes stop answering
            await assert_answered_once(stack, consumer, first_block)
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
        if second is not None:
            shutil.rmtree(second.directory, ignore_errors=True)


def neo_go_peer_privnet(rpc_url: str) -> type[Privnet]:
    """neo-go's own oracle service on the short-window privnet, handing its signatures to ``rpc_url``."""

    class ShortWindowPeered(OraclePrivnet):
        def configure(self) -> Path:
            return short_window(super().configure(), [rpc_url])

    return ShortWindowPeered


async def test_our_backup_response_is_the_one_neo_go_builds_after_the_main_one_expired(
    contracts_built: None, certificates: LoopbackCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our node and neo-go's own oracle service designated (2 of 2); our node down until the main
    response expired. neo-go builds its backup when it first processes a request (valid until the main
    one's block) and again only when its oracle service starts, so the node is restarted after the
    expiry: it then builds the backup valid until the request block + 2 increments, as our enclave does.
    Our worker hands its backup signature to neo-go's RPC; neo-go verifies it against its own backup
    transaction and sends it: the two nodes built the same transaction."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # neo-go's fetches trust the test CA
    api_port = find_free_port()
    stack = await open_stack(
        privnet=neo_go_peer_privnet(f"http://127.0.0.1:{api_port}/api/v1/native-oracle/rpc"),
        oracle_allow_hosts="127.0.0.1",
        oracle_ca_file=str(certificates.ca_file),
    )
    try:
        with https_server(certificates) as web:
            ours = bytes.fromhex(stack.network.service_keys["native_oracle"])
            theirs = bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY)
            await designate_oracles(stack.committee, [ours, theirs])
            web.routes["/ticker"] = {"price": 42.17}
            nef, manifest = artifact("native_oracle_consumer")
            consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
            first_block = stack.network.deployed_height
            receipt = await stack.committee.invoke(
                call(consumer, "request", web.url("/ticker"), "$.price", 5, deploy.GAS)
            )
            request_block = int(receipt.included_in_block)
            main_until = request_block + INCREMENT

            async def main_expired() -> bool:
                return await height(stack) >= main_until

            await wait_for(main_expired, INCREMENT * 0.3, f"block {main_until}: the main response expired")
            assert (await stack.read(consumer, "answers")).as_int() == 0  # neo-go's signature alone
            await stack.net.stop()  # neo-go's oracle service builds the request's responses again on start
            await stack.net.start()
            stack.start_worker(NSL_NEO_ORACLE_PEERS=stack.net.rpc_url)

            async def answered() -> bool:
                return bool((await stack.read(consumer, "answers")).as_int() >= 1)

            await wait_for(answered, 30, "the backup response's callback")
            assert (await stack.read(consumer, "lastCode")).as_int() == NeoResponseCode.CONSENSUS_UNREACHABLE
            (tx,) = (await oracle_transactions(stack, first_block)).values()
            (attribute,) = tx.attributes
            assert isinstance(attribute, transaction.OracleResponse)
            assert (int(attribute.code), attribute.result) == (NeoResponseCode.CONSENSUS_UNREACHABLE, b"")
            assert tx.valid_until_block == request_block + 2 * INCREMENT
            assert signers_of(tx, stack.net.magic, [ours, theirs]) == {ours, theirs}
            await assert_answered_once(stack, consumer, first_block)
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
