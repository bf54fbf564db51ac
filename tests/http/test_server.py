"""The API as a real ``nsl serve`` process on a loopback port: what a user checks with curl."""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.serverproc import free_port, running_server
from tests.http.tcpproxy import TcpProxy
from tests.http.tlscerts import self_signed


def test_sqlite_server_answers_with_headers_metrics_and_limits(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", {"NSL_MAX_BODY_BYTES": "2048"}) as server:
        with httpx.Client(base_url=server.base_url) as http:
            live = http.get("/health/live", headers={"X-Request-ID": "curl-check-0001"})
            assert live.json() == {"status": "ok"}
            assert live.headers["x-request-id"] == "curl-check-0001"
            assert live.headers["x-frame-options"] == "DENY"
            assert "server" not in live.headers

            ready = http.get("/health/ready").json()
            assert ready["components"]["database"] == {"status": "up", "critical": True, "dialect": "sqlite"}

            too_big = http.post("/health/live", content=b"z" * 4096)
            assert too_big.status_code == 413
            assert too_big.headers["content-type"] == "application/problem+json"

            missing = http.get("/api/v1/missing")
            assert missing.status_code == 404
            assert missing.json()["correlation_id"] == missing.headers["x-request-id"]

            text = http.get("/metrics").text
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {"nsl_http_requests", "nsl_http_request_duration_seconds", "nsl_build_info"} <= names
    assert (tmp_path / "data" / "nsl.db").exists()


@pytest.mark.postgres
async def test_ready_turns_503_when_postgres_is_unreachable_and_recovers(
    tmp_path: Path, postgres_url: str
) -> None:
    target = urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    url = postgres_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    try:
        with running_server(
            tmp_path / "data", {"NSL_DATABASE_URL": url, "NSL_AUTO_MIGRATE": "true"}
        ) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                ready = await http.get("/health/ready")
                assert ready.status_code == 200
                assert ready.json()["components"]["database"]["dialect"] == "postgresql"
                assert (await http.get("/api/v1/system/info")).json()["schema_current"] is True

                proxy.stop()
                down = await http.get("/health/ready")
                assert down.status_code == 503
                body = down.json()
                assert body["status"] == "unready"
                assert body["components"]["database"]["status"] == "down"
                assert "postgres" not in body["components"]["database"]["detail"].lower()
                assert (await http.get("/health/live")).status_code == 200

                proxy.start()
                for _ in range(50):
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail("readiness did not recover after the database came back")
    finally:
        proxy.stop()


def test_ready_is_503_when_the_database_never_answers(tmp_path: Path) -> None:
    closed = free_port()
    env = {"NSL_DATABASE_URL": f"postgresql://nsl@127.0.0.1:{closed}/nsl", "NSL_AUTO_MIGRATE": "false"}
    with running_server(tmp_path / "data", env) as server:
        response = httpx.get(f"{server.base_url}/health/ready", timeout=10)
    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "down"


def _handshake(port: int, context: ssl.SSLContext) -> str | None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


def test_tls_prefers_1_3_accepts_1_2_and_refuses_1_0_and_1_1(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {"NSL_TLS_CERT_FILE": str(cert), "NSL_TLS_KEY_FILE": str(key)}
    with running_server(
        tmp_path / "data", env, scheme="https", verify=ssl.create_default_context(cafile=str(cert))
    ) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        modern = ssl.create_default_context(cafile=str(cert))
        assert _handshake(port, modern) == "TLSv1.3"

        tls12 = ssl.create_default_context(cafile=str(cert))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        assert _handshake(port, tls12) == "TLSv1.2"

        for old in ("TLSv1", "TLSv1_1"):
            with warnings.catch_warnings():  # the client side of this check uses deprecated versions
                warnings.simplefilter("ignore", DeprecationWarning)
                legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                legacy.load_verify_locations(str(cert))
                legacy.set_ciphers("ALL:@SECLEVEL=0")
                legacy.minimum_version = getattr(ssl.TLSVersion, old)
                legacy.maximum_version = getattr(ssl.TLSVersion, old)
                with pytest.raises(ssl.SSLError):
                    _handshake(port, legacy)

        weak = ssl.create_default_context(cafile=str(cert))
        weak.maximum_version = ssl.TLSVersion.TLSv1_2
        weak.set_ciphers("ECDHE+AES128+SHA:@SECLEVEL=0")  # CBC suites only: the server must refuse
        with pytest.raises(ssl.SSLError):
            _handshake(port, weak)

        response = httpx.get(
            f"{server.base_url}/health/live", verify=ssl.create_default_context(cafile=str(cert))
        )
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
