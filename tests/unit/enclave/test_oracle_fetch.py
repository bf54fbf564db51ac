"""The oracle fetcher against loopback HTTP(S) servers the tests control (allowed explicitly)."""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path

import pytest
from loopback_http import (
    LoopbackServer,
    json_route,
    make_certificates,
    raw_route,
    redirect_route,
    stall_route,
    stream_route,
)

from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.fetch_guard import GuardPolicy, IPAddress
from neo_service_layer.enclave.wire.oracle import MAX_RESPONSE_BYTES, ResultCode

LOOPBACK = GuardPolicy.of(["127.0.0.1"], allow_http=True)
MiB = 1024 * 1024


def fetcher(policy: GuardPolicy = LOOPBACK) -> Fetcher:
    return Fetcher(policy)


async def test_get_json() -> None:
    async with LoopbackServer({"/price": json_route({"price": "1.5"})}) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/price?pair=NEO")))
    assert fetched.code is ResultCode.SUCCESS
    assert json.loads(fetched.body) == {"price": "1.5"}
    assert (fetched.status, fetched.content_type) == (200, "application/json")
    (seen,) = server.seen
    assert (seen.method, seen.target, seen.headers["host"]) == (
        "GET",
        "/price?pair=NEO",
        f"127.0.0.1:{server.port}",
    )
    assert seen.headers["accept-encoding"] == "identity"


async def test_post_with_body_and_headers() -> None:
    async with LoopbackServer({"/q": json_route({"ok": True})}) as server:
        request = FetchRequest(
            "POST", server.url("/q"), headers=(("Content-Type", "application/json"),), body=b'{"q":1}'
        )
        assert (await fetcher().fetch(request)).code is ResultCode.SUCCESS
    (seen,) = server.seen
    assert (seen.method, seen.body, seen.headers["content-type"]) == ("POST", b'{"q":1}', "application/json")


async def test_loopback_is_refused_without_the_allow_list() -> None:
    async with LoopbackServer({"/x": json_route({})}) as server:
        fetched = await fetcher(GuardPolicy(allow_http=True)).fetch(FetchRequest("GET", server.url("/x")))
        assert fetched.code is ResultCode.FORBIDDEN
        fetched = await fetcher(GuardPolicy.of(["127.0.0.1"])).fetch(FetchRequest("GET", server.url("/x")))
        assert fetched.code is ResultCode.FORBIDDEN  # plain http needs NSL_ORACLE_ALLOW_HTTP
    assert server.seen == []


async def test_streamed_body_above_the_limit_is_refused_without_reading_it_all() -> None:
    async with LoopbackServer({"/big": stream_route(2 * MiB)}) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/big")))
    assert fetched.code is ResultCode.TOO_LARGE
    assert MAX_RESPONSE_BYTES < fetched.bytes_read <= MAX_RESPONSE_BYTES + 64 * 1024
    assert fetched.body == b""


async def test_declared_length_above_the_limit_is_refused_before_reading() -> None:
    async with LoopbackServer({"/big": stream_route(2 * MiB, declare=True)}) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/big")))
    assert (fetched.code, fetched.bytes_read) == (ResultCode.TOO_LARGE, 0)


async def test_a_smaller_response_limit() -> None:
    async with LoopbackServer(
        {"/x": raw_route(b'{"a":"' + b"x" * 200 + b'"}', "application/json")}
    ) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/x"), max_response_bytes=100))
    assert fetched.code is ResultCode.TOO_LARGE


async def test_a_stalling_server_times_out() -> None:
    async with LoopbackServer({"/stall": stall_route()}) as server:
        started = time.monotonic()
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/stall"), timeout=0.5))
        elapsed = time.monotonic() - started
    assert fetched.code is ResultCode.TIMEOUT
    assert 0.4 < elapsed < 2.0


async def test_a_slow_body_times_out_under_one_deadline() -> None:
    async with LoopbackServer({"/slow": stream_route(200 * 1024 * 1024)}) as server:
        started = time.monotonic()
        fetched = await fetcher().fetch(
            FetchRequest("GET", server.url("/slow"), timeout=0.3, max_response_bytes=MAX_RESPONSE_BYTES)
        )
        assert time.monotonic() - started < 2.0
    assert fetched.code in (ResultCode.TIMEOUT, ResultCode.TOO_LARGE)


async def test_redirects_are_followed_up_to_the_limit() -> None:
    routes = {
        "/r3": redirect_route("/r2"),
        "/r2": redirect_route("/r1", 307),
        "/r1": redirect_route("/json", 308),
        "/json": json_route({"v": 1}),
    }
    async with LoopbackServer(routes) as server:
        ok = await fetcher().fetch(FetchRequest("GET", server.url("/r3"), max_redirects=3))
        too_many = await fetcher().fetch(FetchRequest("GET", server.url("/r3"), max_redirects=2))
        none = await fetcher().fetch(FetchRequest("GET", server.url("/r1"), max_redirects=0))
    assert ok.code is ResultCode.SUCCESS
    assert json.loads(ok.body) == {"v": 1}
    assert ok.connected_to == ("127.0.0.1",) * 4
    assert too_many.code is ResultCode.UPSTREAM_ERROR
    assert "redirects" in too_many.message
    assert none.code is ResultCode.UPSTREAM_ERROR


async def test_redirect_to_a_private_address_is_forbidden() -> None:
    routes = {
        "/go": redirect_route("http://10.0.0.1/admin"),
        "/meta": redirect_route("http://169.254.169.254/"),
    }
    async with LoopbackServer(routes) as server:
        for path in ("/go", "/meta"):
            fetched = await fetcher().fetch(FetchRequest("GET", server.url(path)))
            assert fetched.code is ResultCode.FORBIDDEN


async def test_see_other_turns_post_into_get() -> None:
    routes = {"/post": redirect_route("/json", 303), "/json": json_route({"ok": True})}
    async with LoopbackServer(routes) as server:
        request = FetchRequest(
            "POST", server.url("/post"), headers=(("Content-Type", "text/plain"),), body=b"x"
        )
        assert (await fetcher().fetch(request)).code is ResultCode.SUCCESS
    assert [(s.method, s.body) for s in server.seen] == [("POST", b"x"), ("GET", b"")]
    assert "content-type" not in server.seen[1].headers


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, ResultCode.NOT_FOUND), (410, ResultCode.NOT_FOUND), (500, ResultCode.UPSTREAM_ERROR)],
)
async def test_error_statuses(status: int, code: ResultCode) -> None:
    async with LoopbackServer({"/x": raw_route(b"{}", "application/json", status)}) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/x")))
    assert (fetched.code, fetched.status) == (code, status)


async def test_compressed_bodies_are_refused() -> None:
    route = raw_route(b"\x1f\x8b\x08\x00", "application/json", Content_Encoding="gzip")
    async with LoopbackServer({"/gz": route}) as server:
        fetched = await fetcher().fetch(FetchRequest("GET", server.url("/gz")))
    assert fetched.code is ResultCode.UPSTREAM_ERROR


async def test_connection_refused_is_an_upstream_error() -> None:
    async with LoopbackServer({}) as server:
        url = server.url("/x")
    fetched = await fetcher().fetch(FetchRequest("GET", url))
    assert fetched.code is ResultCode.UPSTREAM_ERROR


# TLS: connect to the checked address, verify the certificate for the host name ---------------------


async def _resolve_to_loopback(host: str, port: int) -> list[IPAddress]:
    return [ipaddress.ip_address("127.0.0.1")]


async def test_https_pins_the_address_and_keeps_sni_and_host(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path, "oracle.test")
    policy = GuardPolicy.of(["127.0.0.1"])  # https only
    tls_fetcher = Fetcher(policy, resolver=_resolve_to_loopback, ssl_context=certs.client_context())
    async with LoopbackServer({"/p": json_route({"p": 1})}, tls=certs.server_context()) as server:
        fetched = await tls_fetcher.fetch(FetchRequest("GET", server.url("/p", host="oracle.test")))
    assert fetched.code is ResultCode.SUCCESS
    assert server.sni == ["oracle.test"]
    assert server.seen[0].headers["host"] == f"oracle.test:{server.port}"


async def test_https_certificate_must_match_the_host_name_not_the_address(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path, "other.test")  # also valid for 127.0.0.1, the pinned address
    tls_fetcher = Fetcher(
        GuardPolicy.of(["127.0.0.1"]), resolver=_resolve_to_loopback, ssl_context=certs.client_context()
    )
    async with LoopbackServer({"/p": json_route({"p": 1})}, tls=certs.server_context()) as server:
        fetched = await tls_fetcher.fetch(FetchRequest("GET", server.url("/p", host="oracle.test")))
    assert fetched.code is ResultCode.UPSTREAM_ERROR
    assert fetched.message.startswith("the certificate of oracle.test did not verify: ")
    assert "mismatch" in fetched.message.lower()
    assert server.seen == []


async def test_https_with_an_untrusted_certificate_fails_and_says_the_certificate_did_not_verify(
    tmp_path: Path,
) -> None:
    certs = make_certificates(tmp_path, "oracle.test")
    default_fetcher = Fetcher(GuardPolicy.of(["127.0.0.1"]), resolver=_resolve_to_loopback)
    async with LoopbackServer({"/p": json_route({"p": 1})}, tls=certs.server_context()) as server:
        fetched = await default_fetcher.fetch(FetchRequest("GET", server.url("/p", host="oracle.test")))
    assert fetched.code is ResultCode.UPSTREAM_ERROR
    # not "could not connect": the operator learns it is the CA setting, and why
    assert fetched.message.startswith("the certificate of oracle.test did not verify: ")
    assert "unable to get local issuer certificate" in fetched.message
