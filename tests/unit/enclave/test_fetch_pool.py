"""``enclave/fetch_pool.py``: kept-alive connections, reused only for the TLS identity they verified,
against a real https server on loopback (the test CA of ``tls_support``)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.chain.tls_support import HttpsServer, https_server, make_certificates

from neo_service_layer.enclave import fetch_pool
from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.fetch_pool import SharedPools
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.server import EnclaveServer
from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[HttpsServer, ssl.SSLContext]]:
    certificates = make_certificates(tmp_path)
    with https_server(certificates) as server:
        server.routes["/a"] = {"n": 1}
        server.routes["/b"] = {"n": 2}
        yield server, ssl.create_default_context(cafile=str(certificates.ca_file))


async def _local_port(client: httpx.AsyncClient, url: str, sni: str | None = None) -> int:
    """GET ``url`` (SNI ``sni``, as ``fetch.py`` sends a checked address); the connection's local port."""
    request = client.build_request("GET", url)
    if sni is not None:
        request.extensions["sni_hostname"] = sni
    response = await client.send(request, stream=True)
    try:
        await response.aread()
        assert response.status_code == 200
        return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    finally:
        await response.aclose()


async def test_a_connection_is_reused_for_the_same_hostname_and_kept_after_the_client_closes(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    server, context = served
    pools = SharedPools(context)
    async with httpx.AsyncClient(transport=pools) as client:
        first = await _local_port(client, server.url("/a"), sni="localhost")
        second = await _local_port(client, server.url("/b"), sni="localhost")
    assert first == second  # one TCP connection and one handshake for both
    assert pools.kept == 1  # closing the client closed nothing
    async with httpx.AsyncClient(transport=pools) as client:
        assert await _local_port(client, server.url("/a"), sni="localhost") == first
    await pools.close()
    assert pools.kept == 0


async def test_another_hostname_on_the_same_address_gets_its_own_connection(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    server, context = served
    pools = SharedPools(context)
    async with httpx.AsyncClient(transport=pools) as client:
        by_name = await _local_port(client, server.url("/a"), sni="localhost")
        by_address = await _local_port(client, server.url("/a"))  # verified for 127.0.0.1, no SNI
        assert by_name != by_address
        assert await _local_port(client, server.url("/b"), sni="localhost") == by_name
    assert pools.kept == 2
    await pools.close()


async def test_concurrent_requests_each_get_a_connection_and_idle_ones_expire(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    server, context = served
    now = [0.0]
    pools = SharedPools(context, clock=lambda: now[0])
    async with httpx.AsyncClient(transport=pools) as client:
        streams = [
            await client.send(client.build_request("GET", server.url(p)), stream=True) for p in ("/a", "/b")
        ]
        ports = {int(r.extensions["network_stream"].get_extra_info("client_addr")[1]) for r in streams}
        assert len(ports) == 2  # no queue: the second request did not wait for the first
        for response in streams:
            await response.aread()
            await response.aclose()
        assert pools.kept == 2
        now[0] += fetch_pool.KEEPALIVE_EXPIRY + 1
        fresh = await _local_port(client, server.url("/a"))
    assert fresh not in ports  # the expired connections were closed, not reused
    assert pools.kept == 1
    await pools.close()


class _SlowToClose(httpx.AsyncHTTPTransport):
    """A kept connection whose close lets other tasks run (as closing a TLS connection may)."""

    closed = 0

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        _SlowToClose.closed += 1


async def test_fetches_expiring_connections_at_once_lose_none_and_fail_none(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    """Two fetches expire idle connections at the same moment: while the first awaits a close, the second
    expires (and removes) another hostname's. The first used to walk on to that hostname: a ``KeyError``
    that failed its fetch (an ``internal`` enclave error in the chaos test)."""
    server, context = served
    now = [0.0]
    pools = SharedPools(context, clock=lambda: now[0])
    async with httpx.AsyncClient(transport=pools) as client:
        first = await _local_port(client, server.url("/a"))  # kept, and the pools know their loop
        for host in ("x.example", "y.example"):
            await pools.give_back(("https", host, 443), _SlowToClose())
        assert pools.kept == 3
        now[0] += fetch_pool.KEEPALIVE_EXPIRY + 1
        ports = await asyncio.gather(
            _local_port(client, server.url("/a")), _local_port(client, server.url("/b"))
        )
    assert len(set(ports)) == 2
    assert first not in ports  # expired, not reused
    assert _SlowToClose.closed == 2  # each expired connection closed once
    assert pools.kept == 2  # the two fetches' own connections, kept for the next ones
    await pools.close()


async def test_a_fetch_carrying_headers_never_leaves_its_connection_for_another(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    server, context = served
    fetcher = Fetcher(GuardPolicy.of(["127.0.0.1"]), ssl_context=context)
    secret = ("authorization", "Bearer not-for-anyone-else")
    with_secret = FetchRequest(
        "GET", server.url("/a"), headers=(secret,), secret_headers=frozenset({"authorization"})
    )
    assert (await fetcher.fetch(with_secret)).code is ResultCode.SUCCESS
    assert fetcher.kept_connections == 0  # closed with its fetch
    posted = FetchRequest("POST", server.url("/a"), body=b"{}")
    await fetcher.fetch(posted)
    assert fetcher.kept_connections == 0
    assert (await fetcher.fetch(FetchRequest("GET", server.url("/a")))).code is ResultCode.SUCCESS
    assert fetcher.kept_connections == 1  # a plain GET keeps its connection for the next one
    await fetcher.close()
    assert fetcher.kept_connections == 0


async def test_a_kept_connection_never_serves_another_address_of_the_same_hostname(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    server, context = served
    pools = SharedPools(context)
    async with httpx.AsyncClient(transport=pools) as client:
        await _local_port(client, server.url("/a"), sni="localhost")
        assert pools.kept == 1
        # the same name checked to resolve elsewhere: a new connection there (nothing listens: refused),
        # not the kept one to 127.0.0.1
        elsewhere = server.url("/a").replace("127.0.0.1", "127.0.0.2")
        with pytest.raises(httpx.ConnectError):
            await _local_port(client, elsewhere, sni="localhost")
    await pools.close()


async def test_fetches_on_one_kept_connection_each_get_their_own_answer(
    served: tuple[HttpsServer, ssl.SSLContext],
) -> None:
    # what the enclave signs is the body of its own fetch: a kept connection never hands one fetch the
    # answer of another (the oracle, native Oracle and feed operations sign what ``fetch`` returns)
    server, context = served
    fetcher = Fetcher(GuardPolicy.of(["127.0.0.1"]), ssl_context=context)
    first = await fetcher.fetch(FetchRequest("GET", server.url("/a")))
    second = await fetcher.fetch(FetchRequest("GET", server.url("/b")))
    again = await fetcher.fetch(FetchRequest("GET", server.url("/a")))
    assert fetcher.kept_connections == 1  # one connection served all three
    assert (first.body, second.body, again.body) == (b'{"n": 1}', b'{"n": 2}', b'{"n": 1}')
    await fetcher.close()


def enclave_with_a_kept_connection(
    served: tuple[HttpsServer, ssl.SSLContext], tmp_path: Path, sealer: Sealer, keystore: KeyStore
) -> tuple[EnclaveServer, Fetcher]:
    """An enclave server (not started) over a fetcher; the test starts it and fetches once."""
    _server, context = served
    fetcher = Fetcher(GuardPolicy.of(["127.0.0.1"]), ssl_context=context)
    operations = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keystore, fetcher)
    return EnclaveServer(operations, b"token", tmp_path / "e.sock"), fetcher


async def test_the_enclave_server_closes_kept_connections_when_it_stops(
    served: tuple[HttpsServer, ssl.SSLContext], tmp_path: Path, sealer: Sealer, keystore: KeyStore
) -> None:
    enclave, fetcher = enclave_with_a_kept_connection(served, tmp_path, sealer, keystore)
    await enclave.start()
    assert (await fetcher.fetch(FetchRequest("GET", served[0].url("/a")))).code is ResultCode.SUCCESS
    assert fetcher.kept_connections == 1
    await enclave.close()
    assert fetcher.kept_connections == 0  # closed while the loop ran, not left to the process's end


@pytest.mark.parametrize("op", ["close_connections", "close", "_fetcher", "authorize", "dispatch"])
async def test_no_client_can_reach_the_shutdown_hook_or_the_fetcher_over_the_socket(
    served: tuple[HttpsServer, ssl.SSLContext], tmp_path: Path, sealer: Sealer, keystore: KeyStore, op: str
) -> None:
    """``close_connections`` is a method the server calls on itself, not an operation: a process holding
    the token (here the development token, which may call every operation) gets "unknown op", and the
    kept connection is still there."""
    enclave, fetcher = enclave_with_a_kept_connection(served, tmp_path, sealer, keystore)
    await enclave.start()
    try:
        assert (await fetcher.fetch(FetchRequest("GET", served[0].url("/a")))).code is ResultCode.SUCCESS
        client = EnclaveClient(tmp_path / "e.sock", "token", timeout=5)
        try:
            with pytest.raises(EnclaveRequestRejected) as refused:
                await client._call(op, {}, idempotent=True)
            assert refused.value.code == "unknown_op"
        finally:
            await client.close()
        assert fetcher.kept_connections == 1
    finally:
        await enclave.close()
