"""``nsl enclave`` runs the enclave program alone: none of the host's code is imported into its process.

The ``nsl`` command line registers every service's commands, and with them FastAPI, SQLAlchemy and
each service's adapters; an enclave started through it would carry all of that (and, under Gramine,
run its import-time code inside the enclave). The test starts the installed ``nsl`` executable, as
``nsl run``, the containers and the Gramine manifest do, with Python's import log switched on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from enclave_process_fakes import running_enclave

HOST_MODULES = (
    "neo_service_layer.kernel",
    "neo_service_layer.services",
    "neo_service_layer.bootstrap",
    "neo_service_layer.registry",
    "neo_service_layer.cli",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "typer",
    "web3",
    "boto3",
)


NSL = str(Path(sys.executable).parent / "nsl")  # the installed executable


def _nsl(*args: str) -> subprocess.CompletedProcess[str]:
    wide = {**os.environ, "COLUMNS": "200"}  # one help line per command, not wrapped
    return subprocess.run([NSL, *args], capture_output=True, text=True, timeout=60, check=False, env=wide)


def _imported(log: str) -> set[str]:
    """Module names from ``PYTHONPROFILEIMPORTTIME`` lines (``import time: self | cumulative | name``)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def _is_host(module: str) -> bool:
    return any(module == host or module.startswith(f"{host}.") for host in HOST_MODULES)


def test_nsl_enclave_serves_without_importing_the_host() -> None:
    with running_enclave(command=(NSL, "enclave"), extra={"PYTHONPROFILEIMPORTTIME": "1"}) as enclave:
        assert enclave.terminate() == 0  # it was listening on its socket (start() waits for that)
        imported = _imported(enclave.log_path.read_text())
    assert {"neo_service_layer.entry", "neo_service_layer.enclave.main"} <= imported
    assert sorted(m for m in imported if _is_host(m)) == []


def test_the_command_line_still_describes_the_enclave_command() -> None:
    shown = _nsl("enclave", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "the only process that holds private keys" in shown.stdout
    listed = _nsl("--help")
    assert listed.returncode == 0, listed.stderr
    assert "enclave" in listed.stdout
