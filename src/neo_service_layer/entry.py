"""The ``nsl`` executable (and ``python -m neo_service_layer``).

``nsl enclave`` goes straight to the enclave without importing the command line: the CLI registers
every service's commands, and with them the host's whole stack (FastAPI, SQLAlchemy, the services'
adapters and SDKs), none of which belongs in the enclave process or, under Gramine, in the code the
enclave runs at start. Every other command is the Typer application in ``neo_service_layer.cli``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["enclave"]:
        from neo_service_layer.enclave.__main__ import main as run_enclave

        sys.exit(run_enclave())
    from neo_service_layer.cli import app

    app()
