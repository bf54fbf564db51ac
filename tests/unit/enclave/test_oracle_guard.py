"""The oracle's SSRF guard: hostile URLs, hostile DNS answers, DNS rebinding, the allow-list."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import httpx
import pytest

from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.fetch_guard import (
    GuardPolicy,
    GuardRefused,
    IPAddress,
    check_address,
    check_url,
    refusal_reason,
)
from neo_service_layer.enclave.wire.oracle import ResultCode

STRICT = GuardPolicy()

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.1.2.3",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "100.100.100.200",
    "168.63.129.16",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "198.18.0.1",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",
    "ff02::1",
    "2001:db8::1",
    "100::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
]
PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal_reason(ip) is not None
    with pytest.raises(GuardRefused):
        check_address(ip, STRICT)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_allow_list_admits_only_listed_addresses() -> None:
    policy = GuardPolicy.of(["127.0.0.1", "10.20.0.0/16"])
    check_address(ipaddress.ip_address("127.0.0.1"), policy)
    check_address(ipaddress.ip_address("10.20.3.4"), policy)
    for other in ("127.0.0.2", "10.21.0.1", "::1", "::ffff:127.0.0.2"):
        with pytest.raises(GuardRefused):
            check_address(ipaddress.ip_address(other), policy)


HOSTILE_URLS = [
    "http://example.com/",
    "ftp://example.com/file",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "https://user:pw@example.com/",
    "https://user@example.com/",
    "https:///path",
    "https://exa mple.com/",
    "https://example.com/\r\nHost: evil",
    "https://example.com:99999/",
    "https://example.com:0/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f.0.0.1/",
    "https://[fe80::1%25eth0]/",
    "https://" + "a" * 64 + ".example/",
    "https://example.com/" + "a" * 2100,
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(GuardRefused):
        check_url(url, STRICT)


def test_url_parts() -> None:
    target = check_url("https://API.Example.com./v1/price?pair=NEO%2FUSD", STRICT)
    assert (target.scheme, target.host, target.port, target.target) == (
        "https",
        "api.example.com",
        443,
        "/v1/price?pair=NEO%2FUSD",
    )
    assert target.host_header == "api.example.com"
    assert check_url("https://bücher.example:8443", STRICT).host == "xn--bcher-kva.example"
    literal = check_url("https://[2606:4700::1]:8443/x", STRICT)
    assert (literal.literal, literal.host_header) == (
        ipaddress.ip_address("2606:4700::1"),
        "[2606:4700::1]:8443",
    )
    assert check_url("http://example.com", GuardPolicy(allow_http=True)).port == 80


# through the fetcher: a resolver the attacker controls ---------------------------------------------


class Resolver:
    """Returns scripted answers, one list per call, and records each lookup."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = [[ipaddress.ip_address(a) for a in answer] for answer in answers]
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


class Recorder:
    """An httpx transport that records where each request would connect, answering from a script."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses) or [httpx.Response(200, json={"price": "1.5"})]
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.responses[min(len(self.requests), len(self.responses)) - 1]

        return httpx.MockTransport(handle)


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
async def test_hostile_dns_answers_are_refused_without_connecting(address: str) -> None:
    recorder = Recorder()
    fetcher = Fetcher(STRICT, resolver=Resolver([address]), transport=recorder.transport())
    fetched = await fetcher.fetch(FetchRequest("GET", "https://evil.example/"))
    assert fetched.code is ResultCode.FORBIDDEN
    assert recorder.requests == []


async def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    recorder = Recorder()
    fetcher = Fetcher(STRICT, resolver=Resolver(["8.8.8.8", "10.0.0.1"]), transport=recorder.transport())
    assert (await fetcher.fetch(FetchRequest("GET", "https://mixed.example/"))).code is ResultCode.FORBIDDEN
    assert recorder.requests == []


async def test_ip_literal_urls_are_checked_without_dns() -> None:
    resolver, recorder = Resolver(["8.8.8.8"]), Recorder()
    fetcher = Fetcher(STRICT, resolver=resolver, transport=recorder.transport())
    for url in (
        "https://127.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://169.254.169.254/latest/meta-data",
    ):
        assert (await fetcher.fetch(FetchRequest("GET", url))).code is ResultCode.FORBIDDEN
    assert resolver.calls == []
    assert recorder.requests == []


async def test_dns_rebinding_cannot_move_the_connection() -> None:
    """Public answer first, loopback second: the connection goes to the checked public address."""
    resolver, recorder = Resolver(["93.184.216.34"], ["127.0.0.1"]), Recorder()
    fetcher = Fetcher(STRICT, resolver=resolver, transport=recorder.transport())
    fetched = await fetcher.fetch(FetchRequest("GET", "https://rebind.example/price?x=1"))
    assert fetched.code is ResultCode.SUCCESS
    assert resolver.calls == ["rebind.example"]  # resolved once: nothing can re-resolve before connect
    (sent,) = recorder.requests
    assert sent.url.host == "93.184.216.34"
    assert sent.url.raw_path == b"/price?x=1"
    assert sent.headers["host"] == "rebind.example"
    assert sent.extensions["sni_hostname"] == "rebind.example"
    assert fetched.connected_to == ("93.184.216.34",)


async def test_redirect_is_resolved_and_checked_again() -> None:
    """A redirect back to the same name whose second answer is private is refused, not followed."""
    resolver = Resolver(["93.184.216.34"], ["10.0.0.7"])
    recorder = Recorder(httpx.Response(302, headers={"Location": "/again"}))
    fetcher = Fetcher(STRICT, resolver=resolver, transport=recorder.transport())
    fetched = await fetcher.fetch(FetchRequest("GET", "https://rebind.example/"))
    assert fetched.code is ResultCode.FORBIDDEN
    assert resolver.calls == ["rebind.example", "rebind.example"]
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "location",
    ["http://93.184.216.34/", "https://169.254.169.254/latest", "https://[::1]/", "file:///etc/passwd"],
)
async def test_redirects_to_refused_targets_are_forbidden(location: str) -> None:
    recorder = Recorder(httpx.Response(301, headers={"Location": location}))
    fetcher = Fetcher(STRICT, resolver=Resolver(["93.184.216.34"]), transport=recorder.transport())
    fetched = await fetcher.fetch(FetchRequest("GET", "https://ok.example/"))
    assert fetched.code is ResultCode.FORBIDDEN
    assert len(recorder.requests) == 1  # the redirect target was never contacted


async def test_secret_headers_are_dropped_when_a_redirect_leaves_the_origin() -> None:
    recorder = Recorder(
        httpx.Response(302, headers={"Location": "https://other.example/x"}),
        httpx.Response(200, json={"ok": True}),
    )
    fetcher = Fetcher(STRICT, resolver=Resolver(["93.184.216.34"]), transport=recorder.transport())
    request = FetchRequest(
        "GET",
        "https://ok.example/",
        headers=(("X-Api-Key", "s3cret"), ("Authorization", "Bearer t"), ("Accept", "application/json")),
        secret_headers=frozenset({"x-api-key"}),
    )
    assert (await fetcher.fetch(request)).code is ResultCode.SUCCESS
    first, second = recorder.requests
    assert first.headers["x-api-key"] == "s3cret"
    assert "x-api-key" not in second.headers
    assert "authorization" not in second.headers
    assert second.headers["accept"] == "application/json"
    assert second.headers["host"] == "other.example"


async def test_a_body_with_secrets_is_never_forwarded_to_another_origin() -> None:
    recorder = Recorder(httpx.Response(307, headers={"Location": "https://other.example/x"}))
    fetcher = Fetcher(STRICT, resolver=Resolver(["93.184.216.34"]), transport=recorder.transport())
    request = FetchRequest("POST", "https://ok.example/", body=b'{"key":"s3cret"}', body_has_secrets=True)
    fetched = await fetcher.fetch(request)
    assert fetched.code is ResultCode.FORBIDDEN
    assert len(recorder.requests) == 1


async def test_unresolvable_host_is_an_upstream_error() -> None:
    async def failing(host: str, port: int) -> list[IPAddress]:
        raise OSError("no such host")

    fetcher = Fetcher(STRICT, resolver=failing, transport=Recorder().transport())
    fetched = await fetcher.fetch(FetchRequest("GET", "https://nowhere.example/"))
    assert fetched.code is ResultCode.UPSTREAM_ERROR
