"""The transaction sender in a real enclave process: the worker token gets only allow-listed calls signed."""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import PeerEnclave
from neo3 import vm
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.network.payloads import transaction, verification
from typer.testing import CliRunner

from neo_service_layer.cli import app
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
from neo_service_layer.kernel.chain.adapters.signing import (
    EnclaveAccount,
    enclave_signing_function,
    unsigned_bytes,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-transactions-01",
    "worker": "worker-token-transactions",
    "cli": "cli-token-transactions-01",
}
MAGIC = 860833102
HEIGHT = 500
RANDOMNESS = types.UInt160(b"\x5a" * 20)


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-tx-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""},
    )
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def cli(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    client = EnclaveClient(enclave.socket_path, TOKENS["cli"], timeout=5)
    yield client
    await client.close()


@pytest.fixture
async def worker(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    client = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=5)
    yield client
    await client.close()


@pytest.fixture
async def sender(cli: EnclaveClient) -> SealedKey:
    """The transaction sender as `nsl chain up` makes it, with the randomness contract registered."""
    sealed = await cli.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX]))
    registered = await cli.allow_contracts(MAGIC, {"randomness": f"0x{RANDOMNESS}"})
    assert registered == {"randomness": f"0x{RANDOMNESS}"}
    return sealed


def _tx(sender: SealedKey, contract: types.UInt160, method: str, args: list[Any]) -> transaction.Transaction:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    builder.emit_contract_call_with_args(contract, method, args)
    account = EnclaveAccount(sender.info.key_id, sender.info.public_key)
    return transaction.Transaction(
        version=0,
        nonce=7,
        system_fee=10**7,
        network_fee=10**6,
        valid_until_block=HEIGHT + 21,
        signers=[verification.Signer(account.script_hash, verification.WitnessScope.CALLED_BY_ENTRY)],
        script=bytes(builder.to_array()),
        protocol_magic=MAGIC,
    )


def _verify(public_key: bytes, signature: bytes, tx: transaction.Transaction) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, struct.pack("<I", MAGIC) + tx.hash().to_array(), ec.ECDSA(hashes.SHA256()))


async def test_the_worker_gets_a_fulfilment_on_a_registered_contract_signed(
    enclave: PeerEnclave, worker: EnclaveClient, sender: SealedKey
) -> None:
    account = EnclaveAccount(sender.info.key_id, sender.info.public_key)
    tx = _tx(sender, RANDOMNESS, "fulfill", [1, b"o" * 32, b"p" * 96, b"s" * 64])
    await enclave_signing_function(lambda: worker, account)(tx, MAGIC, HEIGHT)
    (witness,) = tx.witnesses
    assert witness.verification_script == account.verification_script
    _verify(sender.info.public_key, witness.invocation_script[2:], tx)
    # the registration is in the enclave's sealed state: it survives a restart
    enclave.kill()
    enclave.start()

    async def loader(key_id: str, version: int | None) -> bytes:  # the database's sealed record
        assert key_id == sender.info.key_id
        return sender.sealed_record

    again = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=5, loader=loader)
    try:
        signature = await again.sign_transaction(
            sender.info.key_id, unsigned_bytes(tx), network_magic=MAGIC, height=HEIGHT
        )
        _verify(sender.info.public_key, signature, tx)
    finally:
        await again.close()


@pytest.mark.parametrize(
    ("contract", "method", "args", "reason"),
    [
        (RANDOMNESS, "update", [b"nef", "manifest"], "'update'"),
        (RANDOMNESS, "withdraw", [b"\x01" * 20, 10**8], "'withdraw'"),
        (CONTRACT_HASHES.GAS_TOKEN, "transfer", [b"\x01" * 20, b"\x02" * 20, 10**8, None], "not registered"),
    ],
)
async def test_the_worker_is_refused_an_owner_call_or_a_gas_transfer(
    worker: EnclaveClient,
    sender: SealedKey,
    contract: types.UInt160,
    method: str,
    args: list[Any],
    reason: str,
) -> None:
    tx = _tx(sender, contract, method, args)
    with pytest.raises(PolicyDenied, match=reason):
        await worker.sign_transaction(
            sender.info.key_id, unsigned_bytes(tx), network_magic=MAGIC, height=HEIGHT
        )


async def test_the_worker_cannot_raw_sign_with_the_sender_nor_register_contracts(
    worker: EnclaveClient, sender: SealedKey
) -> None:
    tx = _tx(sender, CONTRACT_HASHES.GAS_TOKEN, "transfer", [b"\x01" * 20, b"\x02" * 20, 10**8, None])
    digest = tx.hash().to_array()
    for purpose, fmt, message, magic in (
        (Purpose.NEO_TX, SignatureFormat.NEO_TX, digest, MAGIC),
        (Purpose.NEO_TX, SignatureFormat.ECDSA_SHA256, struct.pack("<I", MAGIC) + digest, None),
    ):
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign(
                sender.info.key_id,
                message,
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=fmt,
                network_magic=magic,
            )
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign_batch(
                sender.info.key_id,
                [message],
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=fmt,
                network_magic=magic,
            )
    # nor widen the allow-list to a contract of its choosing
    with pytest.raises(OperationNotAllowed, match="allow_contracts"):
        await worker.allow_contracts(MAGIC, {"randomness": f"0x{CONTRACT_HASHES.GAS_TOKEN}"})


def test_nsl_chain_allow_contracts_registers_the_configured_network_with_the_cli_token_only(
    enclave: PeerEnclave, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    feed = types.UInt160(b"\x6b" * 20)
    monkeypatch.setenv("NSL_ENV", "test")
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NSL_ENCLAVE_SOCKET", str(enclave.socket_path))
    monkeypatch.setenv("NSL_NEO_NETWORK", "private")
    monkeypatch.setenv("NSL_NEO_RPC_URLS", "http://127.0.0.1:9")  # never called
    monkeypatch.setenv("NSL_NEO_NETWORK_MAGIC", str(MAGIC))
    monkeypatch.setenv("NSL_NEO_CONTRACTS", json.dumps({"feed": f"0x{feed}"}))
    runner = CliRunner()
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", TOKENS["worker"])
    refused = runner.invoke(app, ["chain", "allow-contracts"])
    assert refused.exit_code == 1
    assert "allow_contracts" in refused.output
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", TOKENS["cli"])
    done = runner.invoke(app, ["chain", "allow-contracts"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"network_magic": MAGIC, "contracts": {"feed": f"0x{feed}"}}
    as_json = runner.invoke(app, ["chain", "allow-contracts", "--json"])  # registering again is idempotent
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, json.loads(done.stdout))
