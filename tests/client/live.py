"""A live ``nsl serve`` on loopback (SQLite, a real enclave process with per-client tokens, as in
production) set up as an operator would: the service keys ``nsl chain up`` makes (with the CLI's
token), a superadmin who enrols TOTP through the client (its backup codes
kept for the operator tests), a tenant, its owner and an API key holding every tenant scope. Secret
import sources on 127.0.0.1 over plain HTTP are allowed (the loopback Vault and AWS of the tests)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp

from nsl_client import Client
from tests.http.serverproc import running_server
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess
from tests.scopes import TENANT_SCOPES

PASSWORD = "client-tests-Passw0rd-4f1b"

#: what ``nsl chain up`` provisions that the off-chain routes need, and the superadmins (run once,
#: before the server starts, against the same database and enclave)
_PROVISION = """
import asyncio, sys
from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.compute.adapters.compute_key import ensure_compute_key
from neo_service_layer.services.oracle.adapters.oracle_key import ensure_oracle_key
from neo_service_layer.services.randomness.adapters.keys import ensure_randomness_keys

async def main():
    async with open_container(Settings(), "cli") as c:
        for ensure in (ensure_randomness_keys, ensure_oracle_key, ensure_compute_key):
            await ensure(c.platform_keys, c.enclave, c.clock)
        for name in sys.argv[2:]:
            await c.iam.identity.create_superadmin(name, sys.argv[1])

asyncio.run(main())
"""


#: each host client's own enclave token (``NSL_ENCLAVE_CLIENTS``): the enclave tells the API from the CLI,
#: which enclave-checked credentials need
ENCLAVE_TOKENS = {
    "api": "client-tests-api-token-000001",
    "worker": "client-tests-worker-token-0001",
    "cli": "client-tests-cli-token-000001",
}


class FetchingEnclave(EnclaveProcess):
    """The enclave with per-client tokens, allowed to fetch from loopback over plain HTTP (the oracle
    tests' upstream)."""

    def env(self, **extra: str) -> dict[str, str]:
        options = {
            "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
            "NSL_ORACLE_ALLOW_HTTP": "true",
            "NSL_ENCLAVE_CLIENTS": json.dumps(ENCLAVE_TOKENS),
            "NSL_ENCLAVE_TOKEN": "",
        }
        return super().env(**{**options, **extra})

    def host_env(self, client: str) -> dict[str, str]:
        """The environment of a host process (the API, the CLI) talking to this enclave as ``client``."""
        env = {k: v for k, v in self.env().items() if k != "NSL_ENCLAVE_CLIENTS"}
        return {**env, "NSL_ENCLAVE_TOKEN": ENCLAVE_TOKENS[client]}


@dataclass(frozen=True)
class Live:
    base_url: str
    data_dir: Path
    #: a second superadmin, not yet enrolled in TOTP (for the sign-in test)
    fresh_admin: str
    tenant_id: str
    #: a member whose role needs no MFA: password sign-in gives a full session (the refresh tests)
    developer: str
    api_key: str
    #: single-use backup codes of the superadmin ``root``: each signs an operator in (``operator``)
    operator_codes: tuple[str, ...]
    #: the environment of a CLI command on the host (the server's, with the CLI's enclave token)
    cli_env: dict[str, str]


def server_env(enclave: FetchingEnclave) -> dict[str, str]:
    return {
        "NSL_ENV": "test",
        "NSL_DATA_DIR": str(enclave.data_dir),
        "NSL_DATABASE_URL": f"sqlite+aiosqlite:///{enclave.data_dir / 'nsl.db'}",
        "NSL_ENCLAVE_SOCKET": str(enclave.socket_path),
        "NSL_ENCLAVE_TOKEN": ENCLAVE_TOKENS["api"],
        "NSL_RATE_LIMIT_ENABLED": "false",
        "NSL_PASSWORD_HASH_TIME_COST": "1",
        "NSL_PASSWORD_HASH_MEMORY_KIB": "64",
        "NSL_PASSWORD_HASH_PARALLELISM": "1",
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_ALLOW_HTTP": "true",
        "NSL_SECRET_SOURCES_ALLOW_HOSTS": "127.0.0.1",
        "NSL_SECRET_SOURCES_ALLOW_HTTP": "true",
        # backups go to <data dir>/backups, encrypted with this key (the operator tests take one)
        "NSL_BACKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def enrol_totp(client: Client, username: str) -> list[str]:
    """Sign in with the password, enrol TOTP, then sign in again with a code: the client's way. Answers
    the backup codes."""
    first = client.sign_in(username, PASSWORD)
    assert first.mfa_enrollment_required
    totp = pyotp.parse_uri(client.enroll_totp().otpauth_uri)
    assert isinstance(totp, pyotp.TOTP)
    backup_codes = client.verify_totp(totp.now()).backup_codes
    # the next code (the server accepts one step of drift, and never a step twice)
    signed_in = client.sign_in(username, PASSWORD, totp_code=totp.at(time.time() + 30))
    assert not signed_in.mfa_enrollment_required
    return backup_codes


@contextmanager
def live_server() -> Iterator[Live]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-cl-"))  # short: Unix socket paths are limited
    enclave = FetchingEnclave(directory, directory / "e.sock")
    enclave.start()
    try:
        env = server_env(enclave)
        provision = subprocess.run(
            [sys.executable, "-c", _PROVISION, PASSWORD, "root", "second-admin"],
            env={**enclave.host_env("cli"), **env, "NSL_ENCLAVE_TOKEN": ENCLAVE_TOKENS["cli"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert provision.returncode == 0, provision.stderr[-3000:]
        with running_server(directory, env) as server, Client(server.base_url) as admin:
            codes = enrol_totp(admin, "root")
            tenant = admin.create_tenant("client-tests")
            admin.add_member(tenant.id, "owner", "owner", password=PASSWORD)
            admin.add_member(tenant.id, "dev", "developer", password=PASSWORD)
            key = admin.create_api_key(tenant.id, "all scopes", sorted(TENANT_SCOPES))
            admin.logout()
            yield Live(
                server.base_url,
                directory,
                "second-admin",
                tenant.id,
                "dev",
                key.key,
                tuple(codes),
                {**enclave.host_env("cli"), **env, "NSL_ENCLAVE_TOKEN": ENCLAVE_TOKENS["cli"]},
            )
    finally:
        if enclave.process is not None and enclave.process.poll() is None:
            enclave.process.terminate()
            enclave.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
