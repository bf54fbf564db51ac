"""``nsl chain owner ...`` on a real network: the owner is a configured committee/multisig address that
signs elsewhere, so the command prints the script and never signs (no enclave, no chain needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from neo3.wallet import utils as wallet_utils
from typer.testing import CliRunner

from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.owner_calls import owner_call
from neo_service_layer.kernel.chain.owner_cli import owner_commands

CONTRACT = "0x" + "ab" * 20
OWNER = wallet_utils.script_hash_to_address(uint160("0x" + "cd" * 20))


def _never(*_: Any) -> Any:
    raise AssertionError("a configured owner is never signed for here")


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "NSL_DATA_DIR": str(tmp_path),
        "NSL_NEO_NETWORK": "private",
        "NSL_NEO_RPC_URLS": "http://127.0.0.1:9",
        "NSL_NEO_NETWORK_MAGIC": "5",
        "NSL_NEO_RANDOMNESS_CONTRACT": CONTRACT,
        "NSL_NEO_CONTRACT_OWNER": OWNER,
    }.items():
        monkeypatch.setenv(name, value)


def test_a_configured_owner_gets_the_update_scripts_to_sign_elsewhere(
    configured: None, tmp_path: Path
) -> None:
    nef, manifest = tmp_path / "s.nef", tmp_path / "s.manifest.json"
    nef.write_bytes(b"NEF3 code")
    manifest.write_text('{"name": "NslRandomnessService"}')
    app = owner_commands(_never, _never)
    result = CliRunner().invoke(app, ["schedule-update", "randomness", str(nef), str(manifest)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["sign_elsewhere"]
    assert (shown["method"], shown["signer"], shown["scope"]) == ("scheduleUpdate", OWNER, "CalledByEntry")
    script = bytes.fromhex(shown["script_hex"])
    assert hashlib.sha256(nef.read_bytes()).digest() in script
    assert hashlib.sha256(manifest.read_bytes()).digest() in script

    result = CliRunner().invoke(app, ["call", "randomness", "setFee", "20000000"])
    assert result.exit_code == 0, result.output
    expected = owner_call(uint160(CONTRACT), "setFee", [20_000_000]).script.hex()
    assert json.loads(result.output)["sign_elsewhere"]["script_hex"] == expected
    as_json = CliRunner().invoke(app, ["call", "randomness", "setFee", "20000000", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["sign_elsewhere"]["script_hex"] == expected


def test_an_unknown_contract_is_refused(configured: None) -> None:
    result = CliRunner().invoke(owner_commands(_never, _never), ["call", "nosuch", "pause"])
    assert result.exit_code == 2
    assert "no contract 'nosuch'" in result.output


def test_a_malformed_owner_address_is_a_clear_error(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NSL_NEO_CONTRACT_OWNER", "not-an-address")
    result = CliRunner().invoke(owner_commands(_never, _never), ["call", "randomness", "pause"])
    assert result.exit_code == 2
    assert "NSL_NEO_CONTRACT_OWNER is not a Neo N3 address" in result.output
