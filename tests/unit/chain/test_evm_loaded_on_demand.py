"""web3 is loaded only where an EVM chain is configured.

Importing it (with eth_account's key-file and BLS tables) costs every process about 0.7 s of CPU at
start; an API, a worker or a CLI command of an installation without Neo X must not pay it. Each case
runs in a fresh interpreter, since this test process has long loaded web3 for other tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.fresh_interpreter import run_json

EVM_MODULES = ("web3", "eth_account", "eth_keyfile", "py_ecc")

_PROBE = """
import asyncio, json, sys
from neo_service_layer import cli
from neo_service_layer.bootstrap import create_app, open_container
from neo_service_layer.kernel.config import Settings

async def main() -> None:
    settings = Settings()
    create_app(settings)
    async with open_container(settings, "worker", migrate=True) as container:
        opened = container.evm is not None
    print(json.dumps({"evm": opened, "loaded": [m for m in sys.argv[1:] if m in sys.modules]}))

asyncio.run(main())
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    clean.update(
        NSL_ENV="test",
        NSL_DATA_DIR=str(tmp_path),
        NSL_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'nsl.db'}",
        **env,
    )
    result: dict[str, object] = run_json(_PROBE, *EVM_MODULES, env=clean)
    return result


def test_a_process_without_an_evm_chain_never_imports_web3(tmp_path: Path) -> None:
    assert _probe(tmp_path) == {"evm": False, "loaded": []}


def test_a_configured_evm_chain_loads_it(tmp_path: Path) -> None:
    # the chain need not answer: opening the EVM part builds its client and reads the sender key only
    result = _probe(
        tmp_path,
        NSL_EVM_RPC_URLS="http://127.0.0.1:9",
        NSL_EVM_CHAIN_ID="31337",
    )
    assert result["evm"] is True
    assert "web3" in result["loaded"]  # type: ignore[operator]
