"""A tiny HTTP/1.1 server on 127.0.0.1 that oracle fetch tests control route by route (optionally TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    writer: asyncio.StreamWriter
    sent: int = 0

    async def send(
        self, status: int, body: bytes = b"", content_type: str | None = "application/json", **headers: str
    ) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()

    async def stream(self, total: int, chunk: int = 64 * 1024, declare: bool = False) -> None:
        """Send ``total`` bytes of JSON-ish filler, close-delimited (or with Content-Length)."""
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declare:
            head += f"Content-Length: {total}\r\n"
        self.writer.write((head + "\r\n").encode())
        while self.sent < total:
            self.writer.write(b" " * chunk)
            await self.writer.drain()
            self.sent += chunk
            await asyncio.sleep(0.005)


Route = Callable[[Seen, Reply], Awaitable[None]]


@dataclass
class LoopbackServer:
    routes: dict[str, Route]
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> LoopbackServer:
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._server.close_clients()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            seen = Seen(method, target, headers, body)
            self.seen.append(seen)
            reply = Reply(writer)
            self.replies.append(reply)
            route = self.routes.get(target.split("?")[0])
            if route is None:
                await reply.send(404, b"{}")
            else:
                await route(seen, reply)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def json_route(payload: object, content_type: str = "application/json") -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await reply.send(200, json.dumps(payload).encode(), content_type)

    return route


def raw_route(body: bytes, content_type: str | None, status: int = 200, **headers: str) -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await reply.send(status, body, content_type, **headers)

    return route


def redirect_route(location: str, status: int = 302) -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await reply.send(status, b"", None, Location=location)

    return route


def echo_headers_route() -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await reply.send(200, json.dumps({"headers": seen.headers}).encode())

    return route


def stream_route(total: int, declare: bool = False) -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await reply.stream(total, declare=declare)

    return route


def stall_route(seconds: float = 30.0) -> Route:
    async def route(seen: Seen, reply: Reply) -> None:
        await asyncio.sleep(seconds)

    return route


# TLS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCertificates:
    ca_pem: bytes
    server_cert: Path
    server_key: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_certificates(directory: Path, dns_name: str) -> TestCertificates:
    """A test CA and a server certificate for ``dns_name`` (and 127.0.0.1) signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Oracle Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(dns_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TestCertificates(ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path)
