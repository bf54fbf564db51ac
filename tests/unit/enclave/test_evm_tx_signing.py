"""``evm_sign_transaction``: the EVM sender key signs only allow-listed calls it built from their fields.

The raw transaction the enclave returns is decoded and its sender recovered with eth-account (an
independent implementation of EIP-1559 and secp256k1), so the enclave's own RLP encoding is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from neo_service_layer.enclave.evm_tx_rules import (
    OWNER_FUNCTIONS,
    SERVICE_FUNCTIONS,
    EvmTransactionRefused,
    EvmTxLimits,
    function_name,
)
from neo_service_layer.enclave.evm_tx_signing import EvmTransactionSigning, evm_address
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction, RlpItem, rlp_encode, unsigned_payload
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args

CHAIN = 47763
RANDOMNESS = bytes.fromhex("5a" * 20)
ORACLE = bytes.fromhex("6b" * 20)
STRANGER = bytes.fromhex("33" * 20)
GWEI = 10**9


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


FULFILL = _selector("fulfill(uint256,bytes32,bytes)") + bytes(32) * 5


@pytest.fixture
def sender(keystore: KeyStore) -> str:
    sealed = keystore.create(KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.EVM_SENDER]))
    return sealed.info.key_id


@pytest.fixture
def signing(sealer: Sealer, keystore: KeyStore, tmp_path: Path) -> EvmTransactionSigning:
    evm = EvmTransactionSigning(sealer, keystore, tmp_path / "evm_transactions.sealed")
    evm.allow_evm_contracts(
        Args(
            {
                "chain_id": CHAIN,
                "contracts": {"randomness": "0x" + RANDOMNESS.hex(), "oracle": "0x" + ORACLE.hex()},
            }
        )
    )
    return evm


def _args(key_id: str, **fields: Any) -> Args:
    tx: dict[str, Any] = {
        "chain_id": CHAIN,
        "nonce": 7,
        "to": RANDOMNESS,
        "data": FULFILL,
        "gas": 300_000,
        "max_fee_per_gas": 3 * GWEI,
        "max_priority_fee_per_gas": GWEI,
        "value": 0,
    } | fields
    wire = Eip1559Transaction(**tx).to_wire() if tx["to"] is None or len(tx["to"]) == 20 else {}
    return Args({"key_id": key_id, **wire})


def test_the_signed_transaction_decodes_and_recovers_to_the_sender(
    signing: EvmTransactionSigning, keystore: KeyStore, sender: str
) -> None:
    result = signing.evm_sign_transaction(_args(sender))
    raw, tx_hash = b64decode(result["raw"]), b64decode(result["hash"])
    address = evm_address(keystore.info(sender).public_key)
    assert b64decode(result["sender"]) == address
    assert keccak(raw) == tx_hash
    assert Account.recover_transaction(raw).lower() == "0x" + address.hex()
    decoded = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    expected = {"chainId": CHAIN, "nonce": 7, "gas": 300_000, "maxFeePerGas": 3 * GWEI}
    assert {k: decoded[k] for k in expected} == expected
    assert (decoded["maxPriorityFeePerGas"], decoded["value"], list(decoded["accessList"])) == (GWEI, 0, [])
    assert (bytes(decoded["to"]), bytes(decoded["data"])) == (RANDOMNESS, FULFILL)
    # the same fields signed by eth-account on the host give the same unsigned payload and hash layout
    local = Account.create()
    fields = {
        "type": 2, "chainId": CHAIN, "nonce": 7, "to": to_checksum_address(RANDOMNESS), "data": FULFILL,
        "value": 0, "gas": 300_000, "maxFeePerGas": 3 * GWEI, "maxPriorityFeePerGas": GWEI,
    }  # fmt: skip
    theirs = bytes(local.sign_transaction(fields).raw_transaction)
    ours = Eip1559Transaction(CHAIN, 7, RANDOMNESS, FULFILL, 300_000, 3 * GWEI, GWEI)
    assert theirs[0] == 2
    assert rlp.decode(theirs[1:])[:9] == rlp.decode(unsigned_payload(ours)[1:])


def test_rlp_matches_the_reference_for_long_items() -> None:
    items: list[RlpItem] = [
        b"",
        b"\x00",
        b"\x7f",
        b"\x80",
        b"x" * 55,
        b"x" * 56,
        b"y" * 1024,
        [b"a", [b"b" * 60]],
    ]
    for item in items:
        assert rlp_encode(item) == rlp.encode(item)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"to": STRANGER}, "is not registered for chain id"),
        ({"data": _selector("setSigner(address)") + bytes(32)}, "is not allowed on the randomness contract"),
        ({"data": _selector("transferOwnership(address)") + bytes(32)}, "is not allowed"),
        ({"data": _selector("request(bytes32)") + bytes(32)}, "is not allowed"),
        ({"data": b"\x01\x02"}, "is not allowed"),
        ({"data": b""}, "is not allowed"),
        # a service function of another service's contract
        ({"data": _selector("fulfill(uint256,uint8,bytes,uint64,bytes)") + bytes(32)}, "is not allowed"),
        ({"value": 1}, "sends no value"),
        ({"to": None}, "creates no contracts"),
        ({"gas": EvmTxLimits().max_gas + 1}, "gas above the bound"),
        ({"max_fee_per_gas": EvmTxLimits().max_fee_per_gas + 1}, "maxFeePerGas above the bound"),
        ({"chain_id": 1}, "chain id 1 has no registered contracts"),
    ],
)
def test_refusals(signing: EvmTransactionSigning, sender: str, fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(EvmTransactionRefused, match=reason):
        signing.evm_sign_transaction(_args(sender, **fields))


def test_the_oracle_contract_takes_only_the_oracle_fulfill(
    signing: EvmTransactionSigning, sender: str
) -> None:
    oracle_fulfill = _selector("fulfill(uint256,uint8,bytes,uint64,bytes)") + bytes(32)
    signing.evm_sign_transaction(_args(sender, to=ORACLE, data=oracle_fulfill))
    with pytest.raises(EvmTransactionRefused, match="oracle contract"):
        signing.evm_sign_transaction(_args(sender, to=ORACLE, data=FULFILL))


def test_the_table_names_no_owner_function() -> None:
    for signatures in SERVICE_FUNCTIONS.values():
        assert not {function_name(s) for s in signatures} & OWNER_FUNCTIONS


def test_only_the_platform_evm_sender_key_signs(
    signing: EvmTransactionSigning, keystore: KeyStore, sender: str
) -> None:
    randomness_key = keystore.create(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    ).info.key_id
    tenant_key = keystore.create(KeyKind.SECP256K1, KeyPolicy.of("tenant-a", [Purpose.EVM_TX])).info.key_id
    n3_key = keystore.create(
        KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX])
    ).info.key_id
    with pytest.raises(PolicyDenied, match="does not allow purpose evm-sender"):
        signing.evm_sign_transaction(_args(randomness_key))
    for key_id in (tenant_key, n3_key):
        with pytest.raises(PolicyDenied, match="platform's EVM sender only"):
            signing.evm_sign_transaction(_args(key_id))


def test_raw_sign_refuses_the_evm_sender_key(keystore: KeyStore, sender: str) -> None:
    for purpose in (Purpose.EVM_SENDER, Purpose.EVM_TX, Purpose.MESSAGE):
        with pytest.raises(PolicyDenied, match="sign only through their enclave operation"):
            keystore.sign(
                sender,
                [bytes(32)],
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=SignatureFormat.EVM_DIGEST,
            )


def test_registrations_are_sealed_and_persist(
    sealer: Sealer, keystore: KeyStore, tmp_path: Path, sender: str
) -> None:
    path = tmp_path / "evm_transactions.sealed"
    first = EvmTransactionSigning(sealer, keystore, path)
    first.allow_evm_contracts(Args({"chain_id": CHAIN, "contracts": {"randomness": "0x" + RANDOMNESS.hex()}}))
    again = EvmTransactionSigning(sealer, keystore, path)
    assert again.registered(CHAIN) == {"randomness": "0x" + RANDOMNESS.hex()}
    again.evm_sign_transaction(_args(sender))
    # a newer deployment replaces the service's address: the old one is no longer signed for
    again.allow_evm_contracts(Args({"chain_id": CHAIN, "contracts": {"randomness": "0x" + STRANGER.hex()}}))
    with pytest.raises(EvmTransactionRefused, match="is not registered"):
        EvmTransactionSigning(sealer, keystore, path).evm_sign_transaction(_args(sender))
    path.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))
    with pytest.raises(SealedDataInvalid):
        EvmTransactionSigning(sealer, keystore, path)


@pytest.mark.parametrize(
    ("contracts", "chain_id"),
    [
        ({"unknown": "0x" + RANDOMNESS.hex()}, CHAIN),
        ({"randomness": "0x1234"}, CHAIN),
        ({"randomness": RANDOMNESS.hex()}, CHAIN),
        ({}, CHAIN),
        ({"randomness": "0x" + RANDOMNESS.hex()}, 0),
    ],
)
def test_registration_refuses_malformed_input(
    signing: EvmTransactionSigning, contracts: dict[str, str], chain_id: int
) -> None:
    with pytest.raises(InvalidKeyRequest):
        signing.allow_evm_contracts(Args({"chain_id": chain_id, "contracts": contracts}))


def test_malformed_fields_are_refused(signing: EvmTransactionSigning, sender: str) -> None:
    good = _args(sender)
    for field, value in [
        ("to", b64encode(bytes(19))),
        ("nonce", -1),
        ("gas", 2**64),
        ("max_priority_fee_per_gas", 4 * GWEI),  # above max_fee_per_gas
    ]:
        with pytest.raises(InvalidKeyRequest):
            signing.evm_sign_transaction(
                Args({**{k: good.raw(k) for k in _WIRE}, "key_id": sender, field: value})
            )


_WIRE = ("chain_id", "nonce", "to", "data", "gas", "max_fee_per_gas", "max_priority_fee_per_gas", "value")
