"""DNS rebinding against secret imports: the connection goes to the address the SSRF guard checked.

A resolver that records its calls answers an allowed address (``127.0.0.2``, let through by the
policy as a public address would be) the first time and ``127.0.0.1`` (refused) every time after. A
server listens on each, on the same port: the one on 127.0.0.1 stands for the metadata service or a
platform service and must never see a connection.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests  # type: ignore[import-untyped,unused-ignore]
from azure.core.exceptions import ServiceRequestError
from azure.core.rest import HttpRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.aws import AwsSecretSource
from neo_service_layer.services.secrets.adapters.pinned_addresses import (
    AddressPins,
    AddressRefused,
    PinnedAioHttpTransport,
    pinned_requests_adapter,
)
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.adapters.url_guard import SourceUrlPolicy
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    SecretSourceUnavailable,
    VaultSourceConfig,
    VaultTokenAuth,
)

GOOD, BAD = "127.0.0.2", "127.0.0.1"
POLICY = SourceUrlPolicy.of([GOOD], allow_http=True)


class RebindingResolver:
    """Answers GOOD the first time, BAD after that; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        return [GOOD] if len(self.calls) == 1 else [BAD]


@dataclass
class Seen:
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Host header


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.requests.append((self.command, self.path, self.headers.get("host", "")))
        if self.path.startswith("/v1/secret/data/"):  # Vault KV v2 read
            body: dict[str, Any] = {
                "data": {"data": {"password": "pw"}, "metadata": {"version": 3, "created_time": ""}}
            }
        elif self.headers.get("x-amz-target") == "secretsmanager.GetSecretValue":
            body = {"Name": "db", "SecretString": "aws-value", "VersionId": "v1", "ARN": "arn:x"}
        else:
            body = {"ok": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.seen = Seen()
        self.connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True


def _serve(server: _Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def _pair() -> tuple[_Server, _Server]:
    """A server on GOOD and one on BAD, on the same port."""
    for _ in range(20):
        good = _Server((GOOD, 0))
        try:
            bad = _Server((BAD, good.server_address[1]))
        except OSError:
            good.server_close()
            continue
        return good, bad
    raise RuntimeError("no port free on both loopback addresses")


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server, int]]:
    good, bad = _pair()
    threads = [_serve(good), _serve(bad)]
    try:
        yield good, bad, int(good.server_address[1])
    finally:
        for server in (good, bad):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)


async def test_a_vault_import_connects_to_the_checked_address_not_the_rebound_one(
    servers: tuple[_Server, _Server, int],
) -> None:
    good, bad, port = servers
    resolver = RebindingResolver()
    config = VaultSourceConfig(url=f"http://vault.rebind.test:{port}", auth=VaultTokenAuth(Secret("t")))
    source = build_secret_source(config, POLICY, resolve=resolver)
    try:
        for _ in range(2):
            fetched = await source.fetch("db#password")
            assert fetched.value.reveal() == b"pw"
    finally:
        await source.aclose()
    assert resolver.calls == [("vault.rebind.test", port)]  # resolved once, for the check
    assert bad.connections == 0
    assert good.seen.requests[0][1:] == ("/v1/secret/data/db", f"vault.rebind.test:{port}")


async def test_an_aws_import_connects_to_the_checked_address_not_the_rebound_one(
    servers: tuple[_Server, _Server, int],
) -> None:
    good, bad, port = servers
    resolver = RebindingResolver()
    config = AwsSourceConfig(
        region="eu-central-1",
        endpoint_url=f"http://aws.rebind.test:{port}",
        credentials=AwsStaticCredentials("AKIDEXAMPLE", Secret("secret")),
    )
    source = build_secret_source(config, POLICY, resolve=resolver)
    try:
        for _ in range(2):
            assert (await source.fetch("db")).value.reveal() == b"aws-value"
    finally:
        await source.aclose()
    assert resolver.calls == [("aws.rebind.test", port)]
    assert bad.connections == 0
    assert good.seen.requests[0][2] == f"aws.rebind.test:{port}"


async def test_the_azure_transport_connects_to_the_checked_address_not_the_rebound_one(
    servers: tuple[_Server, _Server, int],
) -> None:
    good, bad, port = servers
    resolver = RebindingResolver()
    pins = AddressPins(POLICY, resolver)
    pins.check(f"http://kv.rebind.test:{port}", "source.vault_url")
    transport = PinnedAioHttpTransport(pins)
    async with transport:
        for _ in range(2):
            response = await transport.send(HttpRequest("GET", f"http://kv.rebind.test:{port}/secrets"))
            assert response.status_code == 200
    assert resolver.calls == [("kv.rebind.test", port)]
    assert bad.connections == 0
    assert good.seen.requests[0][2] == f"kv.rebind.test:{port}"


async def test_a_host_not_checked_before_is_checked_when_connecting(
    servers: tuple[_Server, _Server, int],
) -> None:
    """The default AWS endpoint is not in the configuration: its one resolution at connect time is
    checked, and an answer the guard refuses is never connected to."""
    good, bad, port = servers
    resolver = RebindingResolver()
    resolver.calls.append(("an earlier call", 0))  # from now on it answers BAD
    pins = AddressPins(POLICY, resolver)
    with pytest.raises(AddressRefused, match=r"resolves to 127\.0\.0\.1"):
        pins.addresses("other.rebind.test", port)
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", pinned_requests_adapter(pins))
    with pytest.raises(requests.exceptions.ConnectionError, match="refused by the SSRF guard"):
        session.get(f"http://other.rebind.test:{port}/", timeout=5)
    transport = PinnedAioHttpTransport(pins)
    async with transport:
        with pytest.raises(ServiceRequestError, match=r"other\.rebind\.test"):
            await transport.send(HttpRequest("GET", f"http://other.rebind.test:{port}/"))
    config = AwsSourceConfig(  # built without the check: its endpoint's host is not pinned
        region="eu-central-1",
        endpoint_url=f"http://aws.rebind.test:{port}",
        credentials=AwsStaticCredentials("AKIDEXAMPLE", Secret("secret")),
        max_attempts=1,
    )
    source = AwsSecretSource(config, pins=pins)
    try:
        with pytest.raises(SecretSourceUnavailable):
            await source.fetch("db")
    finally:
        await source.aclose()
    assert bad.connections == 0
    assert good.seen.requests == []


def _tls_files(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for ``name``: (CA, certificate, key) PEM files."""
    now = dt.datetime.now(dt.UTC)

    def issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False)
        )
        if ca:
            usage = dict.fromkeys(
                ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
            )
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                    **usage,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = issue("rebinding test CA", ca_key, "rebinding test CA", ca_key, True)
    leaf = issue(name, leaf_key, "rebinding test CA", ca_key, False)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.mark.parametrize("certified", ["vault.rebind.test", "someone-else.test"])
def test_tls_still_checks_the_name_while_connecting_to_the_pinned_address(
    tmp_path: Path, certified: str
) -> None:
    """The socket goes to the pinned IP, but SNI and the certificate check are for the URL's name."""
    ca, cert, key = _tls_files(tmp_path, certified)
    server = _Server((GOOD, 0))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = _serve(server)
    port = int(server.server_address[1])
    resolver = RebindingResolver()
    pins = AddressPins(SourceUrlPolicy.of([GOOD]), resolver)
    pins.check(f"https://vault.rebind.test:{port}", "source.url")
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", pinned_requests_adapter(pins))
    try:
        if certified == "vault.rebind.test":
            response = session.get(
                f"https://vault.rebind.test:{port}/v1/sys/health", verify=str(ca), timeout=5
            )
            assert response.status_code == 200
            assert names == ["vault.rebind.test"]
        else:
            with pytest.raises(requests.exceptions.SSLError, match=r"vault\.rebind\.test"):
                session.get(f"https://vault.rebind.test:{port}/", verify=str(ca), timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert resolver.calls == [("vault.rebind.test", port)]
