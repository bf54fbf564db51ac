"""The Dockerfile, its entrypoint and probe, the Compose stack, nginx and the shell scripts."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from tests.deploy.conftest import DEPLOY, ROOT, require_tool
from tests.deploy.test_k8s_manifests import SECRET_LOOKING
from tests.script_module import load_script

DOCKER = DEPLOY / "docker"
COMPOSE = DEPLOY / "compose"
PINNED_IMAGE = re.compile(r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+$")
NSL_IMAGE = "ghcr.io/neo-service-layer/nsl:0.1.0"


probe = load_script(DOCKER / "nsl_probe.py", "nsl_probe")


# ---- Dockerfile -------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions with continuation lines joined."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python() -> None:
    lines = _dockerfile()
    (base,) = [line for line in lines if line.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.13\.\d+-slim-bookworm", base)
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM ${PYTHON_IMAGE} AS builder", "FROM ${PYTHON_IMAGE}"]
    final = lines[lines.index("FROM ${PYTHON_IMAGE}") :]
    # The runtime stage installs exactly one thing: the PostgreSQL client tools `nsl backup` runs.
    installs = [line for line in final if "apt-get install" in line]
    assert len(installs) == 1
    assert "--no-install-recommends postgresql-client-15 " in installs[0] + " "
    assert "rm -rf /var/lib/apt/lists/*" in installs[0]
    assert not any(tool in line for line in final for tool in ("build-essential", "gcc", "make "))
    assert "latest" not in (DOCKER / "Dockerfile").read_text()


def test_dockerfile_runs_as_10001_with_healthcheck_and_the_nsl_entrypoint() -> None:
    lines = _dockerfile()
    assert "USER 10001:10001" in lines
    assert lines.index("USER 10001:10001") > max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    (healthcheck,) = [line for line in lines if line.startswith("HEALTHCHECK")]
    assert "/health/live" in healthcheck
    assert "curl" not in healthcheck
    assert 'ENTRYPOINT ["nsl-entrypoint"]' in lines
    assert lines[-1] == 'CMD ["serve"]'
    assert 'VOLUME ["/var/lib/nsl"]' in lines
    labels = " ".join(line for line in lines if line.startswith("LABEL"))
    for label in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_dockerfile_installs_from_the_lock_and_copies_only_what_dockerignore_lets_in() -> None:
    lines = _dockerfile()
    assert any("-c requirements.lock" in line and ".whl" in line for line in lines)
    copied = [line.split()[-2] for line in lines if line.startswith("COPY") and "--from" not in line]
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for source in copied:
        assert source.rstrip("/") in allowed or source in {"./"}, source
    first_copy = next(line for line in lines if line.startswith("COPY requirements.lock"))
    assert first_copy.split()[1:-1] == ["requirements.lock", "pyproject.toml", "README.md"]


def test_healthcheck_one_liner_runs(tmp_path: Path) -> None:
    (healthcheck,) = [line for line in _dockerfile() if line.startswith("HEALTHCHECK")]
    code = re.search(r'"-c", "(.*)"\]$', healthcheck)
    assert code is not None
    with _http_server(200) as port:
        env = {**os.environ, "NSL_HTTP_PORT": str(port)}
        result = subprocess.run(["python3", "-c", code.group(1)], env=env, timeout=30, check=False)
    assert result.returncode == 0


# ---- entrypoint and probe ---------------------------------------------------------------------


def _fake_nsl(directory: Path) -> None:
    """An ``nsl`` that prints its arguments and the NSL_ variables it was given."""
    script = directory / "nsl"
    script.write_text('#!/bin/sh\necho "args=$*"\nenv | grep "^NSL_" | sort\n')
    script.chmod(0o755)


def test_entrypoint_exports_secret_files_and_runs_nsl(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "nsl_database_url").write_text("postgresql://u:p@db/nsl\n")
    (secrets / "nsl_enclave_token").write_text("tok")
    (secrets / "nsl_bad-name").write_text("x")
    (secrets / "postgres_password").write_text("not for nsl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_nsl(bin_dir)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "NSL_SECRETS_DIR": str(secrets),
        "NSL_ENCLAVE_TOKEN": "from-env",
    }
    result = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), "serve", "--no-migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "args=serve --no-migrate"
    assert "NSL_DATABASE_URL=postgresql://u:p@db/nsl" in lines
    assert "NSL_ENCLAVE_TOKEN=from-env" in lines, "variables already set win over files"
    assert not any(line.startswith(("NSL_BAD", "NSL_POSTGRES")) for line in lines)


def test_probe_reads_secret_files_like_the_entrypoint(tmp_path: Path) -> None:
    (tmp_path / "nsl_redis_url").write_text("redis://x\n")
    (tmp_path / "nsl_enclave_token").write_text("file")
    (tmp_path / "other").write_text("ignored")
    environ = {"NSL_ENCLAVE_TOKEN": "env"}
    probe.load_secret_files(environ, tmp_path)
    assert environ == {"NSL_ENCLAVE_TOKEN": "env", "NSL_REDIS_URL": "redis://x"}
    probe.load_secret_files(environ, tmp_path / "missing")


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ServerHandle:
    def __init__(self, status: int) -> None:
        handler = type("Handler", (_Handler,), {"status": status})
        self.server = HTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        return int(self.server.server_address[1])

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _http_server(status: int) -> _ServerHandle:
    return _ServerHandle(status)


def test_probe_http() -> None:
    with _http_server(200) as port:
        assert probe.probe_http(f"http://127.0.0.1:{port}/health/live", 2) is None
    with _http_server(503) as port:
        assert "503" in probe.probe_http(f"http://127.0.0.1:{port}/health/ready", 2)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert "unreachable" in probe.probe_http(f"http://127.0.0.1:{port}/", 2)


def test_probe_socket(tmp_path: Path) -> None:
    path = tmp_path / "enclave.sock"
    assert "cannot connect" in probe.probe_socket(str(path), 1)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        assert probe.probe_socket(str(path), 1) is None


@pytest.fixture
def sqlite_env(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = make_settings()
    monkeypatch.setenv("NSL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NSL_ENV", "test")
    return settings


async def _beat(settings: Settings, hostname: str, at: datetime) -> None:
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
        await record_heartbeat(
            engine, worker_id=f"{hostname}-1", hostname=hostname, pid=1, started_at=at, now=at
        )
    finally:
        await engine.dispose()


async def test_probe_heartbeat_checks_this_hosts_last_heartbeat(sqlite_env: Settings) -> None:
    now = datetime.now(UTC)
    await _beat(sqlite_env, "fresh-host", now)
    await _beat(sqlite_env, "stale-host", now - timedelta(minutes=10))
    # the probe runs its own event loop, as in a container, so it runs in a thread here
    fresh = await _in_thread(lambda: probe.probe_heartbeat(30, "fresh-host"))
    stale = await _in_thread(lambda: probe.probe_heartbeat(30, "stale-host"))
    missing = await _in_thread(lambda: probe.probe_heartbeat(30, "other-host"))
    assert fresh is None
    assert "s old" in stale
    assert "no heartbeat from other-host" in missing


async def _in_thread(function: Callable[[], Any]) -> Any:
    import asyncio

    return await asyncio.to_thread(function)


def test_probe_command_line_exit_codes(tmp_path: Path) -> None:
    assert probe.main(["socket", str(tmp_path / "none.sock")]) == 1
    with _http_server(200) as port:
        assert probe.main(["http", f"http://127.0.0.1:{port}/health/live"]) == 0


# ---- Compose ----------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.production.yml").read_text())
    return data


def test_compose_images_are_pinned() -> None:
    for name, service in _compose()["services"].items():
        image = service["image"]
        assert PINNED_IMAGE.match(image), f"{name}: {image}"
        assert not image.endswith((":latest", ":stable", ":mainline")), name


def test_compose_has_the_whole_stack() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "rabbitmq",
        "enclave",
        "migrate",
        "api",
        "worker",
        "nginx",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["postgres"]["image"].startswith("postgres:15.")
    assert services["redis"]["image"].startswith("redis:7.")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.")
    assert "nsl_bus_url" in services["worker"]["secrets"]
    assert services["worker"]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    assert "ssl=on" in services["postgres"]["command"]
    assert services["api"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_nsl_services_are_locked_down_and_checked() -> None:
    services = _compose()["services"]
    for name in ("enclave", "migrate", "api", "worker"):
        service = services[name]
        assert service["image"] == NSL_IMAGE, name
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(t.startswith("/tmp:") for t in service["tmpfs"]), name
        if name != "migrate":
            assert service["healthcheck"]["test"][:2] == ["CMD", "nsl-probe"], name
    assert services["enclave"]["network_mode"] == "none"
    socket_mounts = {
        name for name, s in services.items() if "enclave-socket:/run/nsl-enclave" in s.get("volumes", [])
    }
    assert socket_mounts == {"enclave", "api", "worker"}


def test_compose_secrets_come_from_files_and_none_is_inline() -> None:
    compose = _compose()
    declared = compose["secrets"]
    assert all(set(spec) == {"file"} and spec["file"].startswith("./secrets/") for spec in declared.values())
    for name, service in compose["services"].items():
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in declared, f"{name}: undeclared secret {source}"
        for key, value in (service.get("environment") or {}).items():
            text = f"{key}: {value}"
            assert not SECRET_LOOKING.search(text), f"{name}: {text}"
            if re.search(r"PASSWORD|TOKEN|SECRET|_KEY$", key):
                assert key.endswith("_FILE"), f"{name}: {key} must be read from a file"
    for path in COMPOSE.rglob("*"):
        if path.is_file() and "secrets" not in path.parts:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                assert not SECRET_LOOKING.search(line), f"{path}:{number}"
    assert (COMPOSE / ".gitignore").read_text().split() == ["secrets/"]


def test_compose_sgx_overlay_adds_the_devices_to_the_enclave_only() -> None:
    overlay = yaml.safe_load((COMPOSE / "docker-compose.sgx.yml").read_text())["services"]
    assert overlay["enclave"]["devices"] == [
        "/dev/sgx_enclave:/dev/sgx_enclave",
        "/dev/sgx_provision:/dev/sgx_provision",
    ]
    assert all("devices" not in s for n, s in overlay.items() if n != "enclave")
    assert all(s["environment"]["NSL_TEE_PLATFORM"] == "gramine-sgx" for s in overlay.values())


def test_nginx_terminates_modern_tls_with_hsts_and_limits() -> None:
    conf = (COMPOSE / "nginx" / "nginx.conf").read_text()
    assert re.search(r"^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$", conf, re.M)
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in conf
    assert "rate=100r/s" in conf
    assert re.search(r"limit_conn per_ip_conn \d+;", conf)
    assert "limit_req_status 429;" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    assert conf.count("{") == conf.count("}")


def test_postgres_app_role_owns_nothing_and_cannot_bypass_rls() -> None:
    script = (COMPOSE / "postgres" / "initdb" / "10-roles.sh").read_text()
    assert re.search(r"CREATE ROLE nsl_app LOGIN PASSWORD :'app_password' .*NOBYPASSRLS", script)
    assert "ALTER DATABASE nsl OWNER TO nsl_owner" in script
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO nsl_app" in script
    assert not re.search(r"OWNER TO nsl_app|GRANT ALL", script)
    hba = (COMPOSE / "postgres" / "pg_hba.conf").read_text()
    network = [line.split()[0] for line in hba.splitlines() if line and not line.startswith(("#", "local"))]
    assert network
    assert set(network) == {"hostssl"}


# ---- shell scripts ----------------------------------------------------------------------------

SCRIPTS = sorted(
    [
        DOCKER / "entrypoint.sh",
        COMPOSE / "setup.sh",
        DEPLOY / "k8s" / "deploy.sh",
        *COMPOSE.glob("postgres/**/*.sh"),
        *COMPOSE.glob("redis/*.sh"),
        *COMPOSE.glob("rabbitmq/*.sh"),
    ]
)


def test_shell_scripts_are_strict_and_shellcheck_clean() -> None:
    for script in SCRIPTS:
        text = script.read_text()
        assert "set -euo pipefail" in text or "set -eu" in text, script
        assert os.access(script, os.X_OK), f"{script} is not executable"
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    result = subprocess.run(
        [shellcheck, *map(str, SCRIPTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


def test_setup_makes_every_compose_secret_and_is_idempotent(tmp_path: Path) -> None:
    openssl = require_tool("openssl", "apt-get install openssl")
    out = tmp_path / "secrets"
    env = {"PATH": os.environ["PATH"], "NSL_SECRETS_OUT": str(out), "NSL_DOMAIN": "nsl.test"}
    first = subprocess.run(
        ["bash", str(COMPOSE / "setup.sh")], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "made " in first.stdout
    files = {path.name: path.read_bytes() for path in out.iterdir()}
    declared = {Path(spec["file"]).name for spec in _compose()["secrets"].values()}
    assert declared <= set(files)
    tokens = {n: files[f"nsl_enclave_token_{n}"].decode().strip() for n in ("api", "worker", "cli")}
    assert all(len(token) == 64 for token in tokens.values())
    assert len(set(tokens.values())) == 3
    assert json.loads(files["nsl_enclave_clients"]) == tokens
    app_password = files["postgres_app_password"].decode().strip()
    assert files["nsl_database_url"].decode().strip() == (
        f"postgresql://nsl_app:{app_password}@postgres:5432/nsl?ssl=verify-full"
    )
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    verify = subprocess.run(
        [openssl, "verify", "-CAfile", str(out / "postgres_ca.crt"), str(out / "postgres_server.crt")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    second = subprocess.run(
        ["bash", str(COMPOSE / "setup.sh")], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "nothing changed" in second.stdout
    assert {path.name: path.read_bytes() for path in out.iterdir()} == files


def test_compose_each_process_gets_only_its_own_enclave_token() -> None:
    services = _compose()["services"]

    def enclave_secrets(name: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for secret in services[name].get("secrets", []):
            if isinstance(secret, str):
                source, target = secret, secret
            else:
                source, target = secret["source"], secret["target"]
            if source.startswith("nsl_enclave_"):
                found[target] = source
        return found

    assert enclave_secrets("enclave") == {"nsl_enclave_clients": "nsl_enclave_clients"}
    assert enclave_secrets("api") == {"nsl_enclave_token": "nsl_enclave_token_api"}
    assert enclave_secrets("worker") == {"nsl_enclave_token": "nsl_enclave_token_worker"}
    assert enclave_secrets("migrate") == {"nsl_enclave_token": "nsl_enclave_token_cli"}
