"""The OpenAPI is the truth: schemathesis drives every operation of a real ``nsl serve`` over loopback.

As a client generator would: the schema from ``/openapi.json``, a tenant API key holding every tenant
scope, generated requests for every operation (and the stateful links between them), and every check
schemathesis has (no server error, status codes, content types, headers and bodies that conform to the
schema, requests the schema allows are not refused, requests it forbids are). Bounded (a fixed number
of examples per operation and a fixed seed) so it runs in every ``make test``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from tests.anvil_support import Anvil, anvil, dev_account
from tests.e2e.evm.conftest import evm_contracts_built
from tests.http.appclient import app_client
from tests.http.serverproc import running_server
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess
from tests.scopes import ALL_SCOPES, TENANT_SCOPES

#: examples per operation; with the fixed seed the run is the same every time
EXAMPLES = int(os.environ.get("NSL_SCHEMATHESIS_EXAMPLES", "25"))
SEED = int(os.environ.get("NSL_SCHEMATHESIS_SEED", "20261202"))
#: the rules the schema cannot state, per operation, each with its reason
CONFIG = Path(__file__).with_name("schemathesis.toml")

__all__ = ["anvil", "evm_contracts_built"]


@pytest.fixture
def enclave() -> Iterator[EnclaveProcess]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-st-"))  # short: Unix socket paths are limited
    process = EnclaveProcess(directory, directory / "e.sock")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _server_env(enclave: EnclaveProcess, database: Path) -> dict[str, str]:
    return {
        "NSL_ENV": "test",
        "NSL_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "NSL_ENCLAVE_SOCKET": str(enclave.socket_path),
        "NSL_ENCLAVE_TOKEN": enclave.token,
        "NSL_RATE_LIMIT_ENABLED": "false",
        "NSL_PASSWORD_HASH_TIME_COST": "1",
        "NSL_PASSWORD_HASH_MEMORY_KIB": "64",
        "NSL_PASSWORD_HASH_PARALLELISM": "1",
    }


@contextmanager
def local_chain(data_dir: Path, env: dict[str, str]) -> Iterator[None]:
    """``nsl chain up`` as ``nsl run`` would leave it: contracts deployed, platform keys, network.json
    (without it the chain routes answer 503, which schemathesis rightly counts as server errors)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("NSL_") or k.startswith("NSL_TEST_")}
    full.update(env, NSL_DATA_DIR=str(data_dir))
    nsl = [sys.executable, "-m", "neo_service_layer"]
    up = subprocess.run(
        [*nsl, "chain", "up"], env=full, capture_output=True, text=True, check=False, timeout=300
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield
    finally:
        subprocess.run([*nsl, "chain", "down"], env=full, capture_output=True, check=False, timeout=120)


async def _tenant_key(settings: Settings) -> str:
    """A tenant and an API key holding every tenant scope, made through the real use cases."""
    app = create_app(settings)
    async with app_client(app):
        container = app.state.container
        admin = Principal(
            tenant_id=PLATFORM_TENANT,
            subject="usr_conformance_admin",
            kind=PrincipalKind.USER,
            roles=frozenset({SUPERADMIN}),
            scopes=ALL_SCOPES,
        )
        tenant = await container.iam.identity.create_tenant(admin, "conformance")
        owner = Principal(
            tenant_id=tenant.id,
            subject="usr_conformance_owner",
            kind=PrincipalKind.USER,
            roles=frozenset({"owner"}),
            scopes=TENANT_SCOPES,
        )
        _, secret = await container.iam.api_keys.create(
            owner, tenant.id, name="conformance", scopes=sorted(TENANT_SCOPES)
        )
        return str(secret)


async def _neo_x(anvil: Anvil) -> dict[str, str]:
    """The EVM routes' chain: an anvil with the randomness contract (without it they answer 503)."""
    chain = EvmChain([anvil.url], anvil.chain_id)
    try:
        owner = LocalEvmSigner(dev_account(0))
        service = await deploy(chain, owner, load_artifact("RandomnessService"), owner.address)
    finally:
        await chain.close()
    return {
        "NSL_EVM_RPC_URLS": anvil.url,
        "NSL_EVM_CHAIN_ID": str(anvil.chain_id),
        "NSL_EVM_CONTRACTS": json.dumps({"randomness": service}),
    }


async def test_every_operation_conforms_to_the_openapi(
    enclave: EnclaveProcess, anvil: Anvil, evm_contracts_built: None, tmp_path: Path
) -> None:
    database = tmp_path / "nsl.db"
    env = _server_env(enclave, database) | await _neo_x(anvil)
    settings = Settings(
        data_dir=enclave.data_dir,
        env="test",
        database_url=env["NSL_DATABASE_URL"],
        enclave_socket=enclave.socket_path,
        enclave_token=enclave.token,
        password_hash_time_cost=1,
        password_hash_memory_kib=64,
        password_hash_parallelism=1,
    )
    api_key = await _tenant_key(settings)
    with local_chain(enclave.data_dir, env), running_server(enclave.data_dir, env) as server:
        report = tmp_path / "schemathesis.txt"
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(CONFIG),
            "run",
            f"{server.base_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {api_key}",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--no-color",
            "--suppress-health-check",
            "all",
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=900, cwd=tmp_path
        )
        report.write_text(result.stdout + result.stderr)
        server_log = server.log()
        (tmp_path / "server.log").write_text(server_log)
    assert "Traceback" not in server_log, server_log[-4000:]
    assert result.returncode == 0, (result.stdout + result.stderr)[-12000:]
