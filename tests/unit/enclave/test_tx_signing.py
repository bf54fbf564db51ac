"""``sign_transaction``: the sender key signs only allow-listed calls with bounded fees and lifetime."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from neo3 import vm
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import serialization, types
from neo3.network.payloads import transaction, verification

from neo_service_layer.enclave import neo_tx
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.tx_rules import TransactionRefused, TxLimits
from neo_service_layer.enclave.tx_signing import PERSIST_STEP, TransactionSigning
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
)
from neo_service_layer.enclave.wire.protocol import Args

MAGIC = 860833102
HEIGHT = 1000
RANDOMNESS = types.UInt160(b"\x11" * 20)
FEED = types.UInt160(b"\x22" * 20)
STRANGER = types.UInt160(b"\x33" * 20)
GAS = CONTRACT_HASHES.GAS_TOKEN


@pytest.fixture
def sender(keystore: KeyStore) -> tuple[str, bytes]:
    sealed = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX]))
    return sealed.info.key_id, sealed.info.public_key


@pytest.fixture
def signing(sealer: Sealer, keystore: KeyStore, tmp_path: Path) -> TransactionSigning:
    tx_signing = TransactionSigning(sealer, keystore, tmp_path / "transactions.sealed")
    tx_signing.allow_contracts(
        Args({"network_magic": MAGIC, "contracts": {"randomness": f"0x{RANDOMNESS}", "feed": f"0x{FEED}"}})
    )
    return tx_signing


def _script(*calls: tuple[types.UInt160, str, list[Any]]) -> bytes:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    for contract, method, args in calls:
        builder.emit_contract_call_with_args(contract, method, args)
    return bytes(builder.to_array())


FULFIL = _script((RANDOMNESS, "fulfill", [7, b"o" * 32, b"p" * 96, b"s" * 64]), (RANDOMNESS, "deliver", [7]))


def _unsigned(
    public_key: bytes,
    script: bytes = FULFIL,
    *,
    system_fee: int = 2 * 10**8,
    network_fee: int = 10**6,
    valid_until_block: int = HEIGHT + 20,
    scope: verification.WitnessScope = verification.WitnessScope.CALLED_BY_ENTRY,
    signers: list[verification.Signer] | None = None,
    attributes: list[transaction.TransactionAttribute] | None = None,
) -> transaction.Transaction:
    account = types.UInt160(neo_tx.account_of(public_key))
    return transaction.Transaction(
        version=0,
        nonce=42,
        system_fee=system_fee,
        network_fee=network_fee,
        valid_until_block=valid_until_block,
        attributes=attributes,
        signers=signers if signers is not None else [verification.Signer(account, scope)],
        script=script,
        protocol_magic=MAGIC,
    )


def _bytes(tx: transaction.Transaction) -> bytes:
    with serialization.BinaryWriter() as writer:
        tx.serialize_unsigned(writer)
        return bytes(writer.to_array())


def _sign(
    signing: TransactionSigning, key_id: str, tx: transaction.Transaction, height: int = HEIGHT
) -> bytes:
    result = signing.sign_transaction(
        Args(
            {"key_id": key_id, "network_magic": MAGIC, "transaction": b64encode(_bytes(tx)), "height": height}
        )
    )
    assert result["hash"] == f"0x{tx.hash()}"
    return b64decode(result["signature"])


def test_a_fulfilment_is_signed_as_a_witness_the_chain_accepts(
    signing: TransactionSigning, sender: tuple[str, bytes]
) -> None:
    key_id, public_key = sender
    tx = _unsigned(public_key)
    signature = _sign(signing, key_id, tx)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, struct.pack("<I", MAGIC) + tx.hash().to_array(), ec.ECDSA(hashes.SHA256()))
    # the feed's submit and markCallbackFailed are the services' calls too
    feed = _script((FEED, "submit", ["NEO/USD", 1, 2, 3, b"s" * 64]))
    assert len(_sign(signing, key_id, _unsigned(public_key, feed))) == 64
    marked = _script((RANDOMNESS, "markCallbackFailed", [7, "callback faulted on chain"]))
    none_scope = _unsigned(public_key, marked, scope=verification.WitnessScope.NONE)
    assert len(_sign(signing, key_id, none_scope)) == 64


REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-contract": ({"script": _script((STRANGER, "fulfill", [1]))}, "not registered"),
    "gas-transfer": (
        {"script": _script((GAS, "transfer", [b"a" * 20, b"b" * 20, 1, None]))},
        "not registered",
    ),
    "owner-update": ({"script": _script((RANDOMNESS, "update", [b"nef", "manifest"]))}, "'update'"),
    "owner-set-fee": ({"script": _script((RANDOMNESS, "setFee", [1]))}, "'setFee'"),
    "owner-withdraw": ({"script": _script((RANDOMNESS, "withdraw", [b"a" * 20, 1]))}, "'withdraw'"),
    "other-service-method": ({"script": _script((FEED, "fulfill", [1]))}, "'fulfill' of the feed"),
    "unlisted-method": ({"script": _script((RANDOMNESS, "request", [1, "cb", b""]))}, "'request'"),
    "allowed-then-owner": (
        {"script": FULFIL + _script((RANDOMNESS, "destroy", []))},
        "'destroy'",
    ),
    "non-call-instruction": ({"script": FULFIL + b"\x45"}, "instruction 0x45"),
    "jump": ({"script": b"\x22\x00" + FULFIL}, "instruction 0x22"),
    "system-fee": ({"system_fee": 50 * 10**8 + 1}, "system fee"),
    "network-fee": ({"network_fee": 10**8 + 1}, "network fee"),
    "vub-expired": ({"valid_until_block": HEIGHT}, "validUntilBlock"),
    "vub-beyond-window": ({"valid_until_block": HEIGHT + 5761}, "validUntilBlock"),
    "global-scope": ({"scope": verification.WitnessScope.GLOBAL}, "scope"),
    "custom-contracts": ({"scope": verification.WitnessScope.CUSTOM_CONTRACTS}, "scope"),
    "other-signer": ({"signers": [verification.Signer(STRANGER)]}, "only signer"),
    "attribute": ({"attributes": [transaction.HighPriorityAttribute()]}, "attributes"),  # type: ignore[no-untyped-call]
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_transactions_outside_the_rules_are_refused(
    signing: TransactionSigning, sender: tuple[str, bytes], case: str
) -> None:
    key_id, public_key = sender
    changes, reason = REFUSALS[case]
    with pytest.raises(TransactionRefused, match=reason) as refused:
        _sign(signing, key_id, _unsigned(public_key, **changes))
    assert isinstance(refused.value, PolicyDenied)  # the host raises a 403


def test_a_co_signer_is_refused(signing: TransactionSigning, sender: tuple[str, bytes]) -> None:
    key_id, public_key = sender
    own = verification.Signer(types.UInt160(neo_tx.account_of(public_key)))
    tx = _unsigned(public_key, signers=[own, verification.Signer(STRANGER, verification.WitnessScope.NONE)])
    with pytest.raises(TransactionRefused, match="only signer"):
        _sign(signing, key_id, tx)


def test_the_height_mark_never_goes_down(signing: TransactionSigning, sender: tuple[str, bytes]) -> None:
    key_id, public_key = sender
    _sign(signing, key_id, _unsigned(public_key, valid_until_block=5000), height=4990)
    assert signing.mark(MAGIC) == 4990
    # a host now claiming an older height gets nothing that expired by the height it reported
    with pytest.raises(TransactionRefused, match="after block 4990"):
        _sign(signing, key_id, _unsigned(public_key, valid_until_block=HEIGHT + 20), height=HEIGHT)
    assert signing.mark(MAGIC) == 4990


def test_only_a_platform_neo_tx_key_signs(
    signing: TransactionSigning, keystore: KeyStore, sender: tuple[str, bytes]
) -> None:
    tenant = keystore.create(KeyKind.SECP256R1, KeyPolicy.of("acme", [Purpose.NEO_TX])).info
    with pytest.raises(PolicyDenied, match="transaction sender"):
        _sign(signing, tenant.key_id, _unsigned(tenant.public_key))
    oracle = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE])).info
    with pytest.raises(PolicyDenied, match="purpose neo-tx"):
        _sign(signing, oracle.key_id, _unsigned(oracle.public_key))


def test_another_network_has_no_registered_contract(
    signing: TransactionSigning, sender: tuple[str, bytes]
) -> None:
    key_id, public_key = sender
    args = {"key_id": key_id, "network_magic": MAGIC + 1, "height": HEIGHT}
    with pytest.raises(TransactionRefused, match="not registered"):
        signing.sign_transaction(Args({**args, "transaction": b64encode(_bytes(_unsigned(public_key)))}))


def test_malformed_transaction_bytes_are_an_invalid_argument(
    signing: TransactionSigning, sender: tuple[str, bytes]
) -> None:
    key_id, public_key = sender
    args = {"key_id": key_id, "network_magic": MAGIC, "height": HEIGHT}
    with pytest.raises(InvalidKeyRequest, match="end of data"):
        signing.sign_transaction(Args({**args, "transaction": b64encode(_bytes(_unsigned(public_key))[:-5])}))


@pytest.mark.parametrize(
    "contracts",
    [{"owner": f"0x{RANDOMNESS}"}, {"randomness": "0x1234"}, {"randomness": str(RANDOMNESS)}, {}],
)
def test_registration_takes_known_services_and_script_hashes_only(
    signing: TransactionSigning, contracts: dict[str, str]
) -> None:
    with pytest.raises(InvalidKeyRequest):
        signing.allow_contracts(Args({"network_magic": MAGIC, "contracts": contracts}))


def test_registration_and_mark_survive_a_restart_and_a_redeploy_replaces_the_hash(
    signing: TransactionSigning, sealer: Sealer, keystore: KeyStore, tmp_path: Path, sender: tuple[str, bytes]
) -> None:
    key_id, public_key = sender
    _sign(
        signing,
        key_id,
        _unsigned(public_key, valid_until_block=HEIGHT + PERSIST_STEP + 10),
        HEIGHT + PERSIST_STEP,
    )
    redeployed = types.UInt160(b"\x44" * 20)
    signing.allow_contracts(Args({"network_magic": MAGIC, "contracts": {"randomness": f"0x{redeployed}"}}))
    again = TransactionSigning(sealer, keystore, tmp_path / "transactions.sealed")
    assert again.registered(MAGIC) == {"feed": f"0x{FEED}", "randomness": f"0x{redeployed}"}
    assert again.mark(MAGIC) == HEIGHT + PERSIST_STEP
    with pytest.raises(TransactionRefused, match="not registered"):
        _sign(again, key_id, _unsigned(public_key, valid_until_block=HEIGHT + PERSIST_STEP + 10))
    moved = _script((redeployed, "fulfill", [7, b"o", b"p", b"s"]))
    assert len(_sign(again, key_id, _unsigned(public_key, moved, valid_until_block=HEIGHT + 200))) == 64


def test_fee_and_window_bounds_come_from_the_limits(
    sealer: Sealer, keystore: KeyStore, sender: tuple[str, bytes]
) -> None:
    key_id, public_key = sender
    tight = TransactionSigning(sealer, keystore, None, TxLimits(max_system_fee=10**8, valid_until_window=10))
    tight.allow_contracts(Args({"network_magic": MAGIC, "contracts": {"randomness": f"0x{RANDOMNESS}"}}))
    with pytest.raises(TransactionRefused, match="system fee"):
        _sign(tight, key_id, _unsigned(public_key))
    with pytest.raises(TransactionRefused, match="validUntilBlock"):
        _sign(tight, key_id, _unsigned(public_key, system_fee=10**8))
    assert (
        len(_sign(tight, key_id, _unsigned(public_key, system_fee=10**8, valid_until_block=HEIGHT + 10)))
        == 64
    )


AUTOMATION = types.UInt160(b"\x44" * 20)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("registerUpkeep", [STRANGER, STRANGER, "tick", [], 3, [5], 10**8, 0]),
        ("withdrawUpkeep", [1, STRANGER, 10**8]),
        ("cancelUpkeep", [1]),
        ("updateUpkeep", [1, "tick", [], 3, [5], 10**8, 0]),
        ("pauseUpkeep", [1]),
        ("withdrawFees", [STRANGER, 10**8]),
        ("setFee", [0]),
    ],
)
def test_on_the_automation_contract_the_sender_signs_perform_and_nothing_else(
    signing: TransactionSigning, sender: tuple[str, bytes], method: str, args: list[Any]
) -> None:
    """A worker-token holder cannot have the sender register, fund from, cancel or withdraw an upkeep,
    nor touch the service's fees: only ``perform``, whose checks are the contract's."""
    key_id, public_key = sender
    signing.allow_contracts(Args({"network_magic": MAGIC, "contracts": {"automation": f"0x{AUTOMATION}"}}))
    perform = _script((AUTOMATION, "perform", [1, 1_000, b""]))
    assert len(_sign(signing, key_id, _unsigned(public_key, perform))) == 64
    with pytest.raises(TransactionRefused, match=method):
        _sign(signing, key_id, _unsigned(public_key, _script((AUTOMATION, method, args))))


GATEWAY = types.UInt160(b"\x55" * 20)
MESSAGE_KEY = [2**63 + 42, b"\x66" * 20, 1]


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("setRoute", [31337, b"\x77" * 20, 0, 0, 10**6]),
        ("setPaused", [31337, True, True]),
        ("setSigner", [b"\x02" + b"\x01" * 32]),
        ("setGuard", [STRANGER]),
        ("setOperator", [STRANGER]),
        ("withdrawFees", [STRANGER, 10**8]),
        ("transferOwnership", [STRANGER]),
    ],
)
def test_on_the_message_gateway_the_sender_relays_and_administers_nothing(
    signing: TransactionSigning, sender: tuple[str, bytes], method: str, args: list[Any]
) -> None:
    """A worker-token holder can have the sender deliver, execute, mark failed and store receipts (each
    checked by the gateway), never change its routes, pause it, replace its signer or take its fees."""
    key_id, public_key = sender
    signing.allow_contracts(Args({"network_magic": MAGIC, "contracts": {"crosschain": f"0x{GATEWAY}"}}))
    relay = _script(
        (GATEWAY, "deliver", [*MESSAGE_KEY, b"\x01" * 20, b"\x02" * 20, 10**7, b"p", b"s" * 64]),
        (GATEWAY, "execute", MESSAGE_KEY),
    )
    assert len(_sign(signing, key_id, _unsigned(public_key, relay))) == 64
    marked = _script((GATEWAY, "markFailed", [*MESSAGE_KEY, "receiver aborted"]))
    assert len(_sign(signing, key_id, _unsigned(public_key, marked))) == 64
    with pytest.raises(TransactionRefused, match=method):
        _sign(signing, key_id, _unsigned(public_key, _script((GATEWAY, method, args))))
