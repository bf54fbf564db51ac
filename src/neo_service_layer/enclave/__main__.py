"""``python -m neo_service_layer.enclave``: run the enclave from its NSL_* environment settings."""

from __future__ import annotations

import logging
import sys

from neo_service_layer.enclave.main import EnclaveStartupError, run_enclave
from neo_service_layer.enclave.settings import EnclaveConfigurationError, load_enclave_settings


def main() -> int:
    try:
        settings = load_enclave_settings()
    except EnclaveConfigurationError as exc:
        print(f"enclave: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)
    try:
        run_enclave(settings)
    except EnclaveStartupError as exc:
        print(f"enclave: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
