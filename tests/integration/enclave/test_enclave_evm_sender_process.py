"""The EVM sender in a real enclave process: only the worker token gets EVM transactions signed, only
the cli token registers contracts, and the key signs nothing raw."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import PeerEnclave, running_enclave
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from typer.testing import CliRunner

from neo_service_layer.cli import app
from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.chain.adapters.evm_signers import EnclaveEvmSigner
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-evm-sender-01",
    "worker": "worker-token-evm-sender",
    "cli": "cli-token-evm-sender-001",
}
CHAIN = 47763
RANDOMNESS = bytes.fromhex("5a" * 20)
FULFILL = keccak(text="fulfill(uint256,bytes32,bytes)")[:4] + bytes(96)
TX = Eip1559Transaction(CHAIN, 0, RANDOMNESS, FULFILL, 300_000, 2 * 10**9, 10**9)


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    extra = {"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""}
    with running_enclave("nsl-evms-", token="", extra=extra) as process:
        yield process


@pytest.fixture
async def clients(enclave: PeerEnclave) -> AsyncIterator[dict[str, EnclaveClient]]:
    opened = {name: EnclaveClient(enclave.socket_path, token, timeout=5) for name, token in TOKENS.items()}
    yield opened
    for client in opened.values():
        await client.close()


@pytest.fixture
async def sender(clients: dict[str, EnclaveClient]) -> SealedKey:
    """The EVM sender as `nsl chain node` makes it, with the randomness contract registered."""
    sealed = await clients["cli"].create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.EVM_SENDER])
    )
    registered = await clients["cli"].allow_evm_contracts(CHAIN, {"randomness": "0x" + RANDOMNESS.hex()})
    assert registered == {"randomness": "0x" + RANDOMNESS.hex()}
    return sealed


async def test_only_the_worker_signs_evm_transactions(
    enclave: PeerEnclave, clients: dict[str, EnclaveClient], sender: SealedKey
) -> None:
    signer = EnclaveEvmSigner(clients["worker"], sender.info.key_id, sender.info.public_key)
    signed = await signer.sign(TX)
    assert Account.recover_transaction(signed.raw) == signer.address
    for name in ("api", "cli"):
        with pytest.raises(OperationNotAllowed):
            await clients[name].evm_sign_transaction(sender.info.key_id, TX)
    # the registration is in the enclave's sealed state: it survives a restart
    enclave.kill()
    enclave.start()

    async def loader(key_id: str, version: int | None) -> bytes:  # the database's sealed record
        assert key_id == sender.info.key_id
        return sender.sealed_record

    again = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=5, loader=loader)
    try:
        assert (await again.evm_sign_transaction(sender.info.key_id, TX)).sender == bytes.fromhex(
            signer.address[2:]
        )
    finally:
        await again.close()


async def test_only_the_cli_registers_evm_contracts(clients: dict[str, EnclaveClient]) -> None:
    for name in ("api", "worker"):
        with pytest.raises(OperationNotAllowed):
            await clients[name].allow_evm_contracts(CHAIN, {"randomness": "0x" + bytes(20).hex()})


async def test_the_evm_sender_key_signs_nothing_raw(
    clients: dict[str, EnclaveClient], sender: SealedKey
) -> None:
    for purpose in (Purpose.EVM_SENDER, Purpose.EVM_TX):
        with pytest.raises(PolicyDenied, match="sign only through their enclave operation"):
            await clients["cli"].sign(
                sender.info.key_id,
                bytes(32),
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=SignatureFormat.EVM_DIGEST,
            )
    with pytest.raises(OperationNotAllowed):  # a tenant cannot take the purpose
        await clients["api"].create_key(KeyKind.SECP256K1, KeyPolicy.of("tenant-a", [Purpose.EVM_SENDER]))


async def test_the_worker_gets_no_owner_call_signed(
    clients: dict[str, EnclaveClient], sender: SealedKey
) -> None:
    set_signer = keccak(text="setSigner(address)")[:4] + bytes(32)
    for tx in (
        Eip1559Transaction(CHAIN, 0, RANDOMNESS, set_signer, 100_000, 2 * 10**9, 10**9),
        Eip1559Transaction(CHAIN, 0, RANDOMNESS, FULFILL, 300_000, 2 * 10**9, 10**9, value=1),
        Eip1559Transaction(CHAIN, 0, None, b"\x60\x00", 300_000, 2 * 10**9, 10**9),
    ):
        with pytest.raises(PolicyDenied):
            await clients["worker"].evm_sign_transaction(sender.info.key_id, tx)


def test_nsl_chain_allow_evm_contracts_registers_the_configured_chain_with_the_cli_token_only(
    enclave: PeerEnclave, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    oracle = to_checksum_address(bytes.fromhex("6b" * 20))
    monkeypatch.setenv("NSL_ENV", "test")
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NSL_ENCLAVE_SOCKET", str(enclave.socket_path))
    monkeypatch.setenv("NSL_EVM_RPC_URLS", "http://127.0.0.1:9")  # never called
    monkeypatch.setenv("NSL_EVM_CHAIN_ID", str(CHAIN))
    monkeypatch.setenv("NSL_EVM_CONTRACTS", json.dumps({"oracle": oracle}))
    runner = CliRunner()
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", TOKENS["worker"])
    refused = runner.invoke(app, ["chain", "allow-evm-contracts"])
    assert refused.exit_code == 1
    assert "allow_evm_contracts" in refused.output
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", TOKENS["cli"])
    done = runner.invoke(app, ["chain", "allow-evm-contracts"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"chain_id": CHAIN, "contracts": {"oracle": oracle.lower()}}
    as_json = runner.invoke(app, ["chain", "allow-evm-contracts", "--json"])  # again: idempotent
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, json.loads(done.stdout))
