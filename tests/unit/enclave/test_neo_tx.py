"""The enclave's Neo N3 codec against neo-mamba: same bytes, same hash, same calls."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from neo3 import vm
from neo3.contracts import callflags
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography, types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction, verification

from neo_service_layer.enclave import neo_tx
from neo_service_layer.enclave.neo_script import ContractCall, Map

ACCOUNT = types.UInt160(bytes(range(20)))
OTHER = types.UInt160(bytes(range(20, 40)))
CONTRACT = types.UInt160(bytes.fromhex("ab" * 20))
GROUP = cryptography.KeyPair(b"\x01" * 32).public_key
HIGH_PRIORITY = transaction.HighPriorityAttribute()  # type: ignore[no-untyped-call]


def _mamba_tx(
    signers: list[verification.Signer],
    attributes: list[transaction.TransactionAttribute] | None = None,
    witnesses: list[verification.Witness] | None = None,
    script: bytes = b"\x11\x40",
) -> transaction.Transaction:
    return transaction.Transaction(
        version=0,
        nonce=0xDEADBEEF,
        system_fee=1_234_567,
        network_fee=98_765,
        valid_until_block=4242,
        attributes=attributes,
        signers=signers,
        script=script,
        witnesses=witnesses,
        protocol_magic=860833102,
    )


def _rules() -> list[verification.WitnessRule]:
    allow = verification.WitnessRuleAction.ALLOW
    deny = verification.WitnessRuleAction.DENY
    nested = verification.ConditionAnd(
        [
            verification.ConditionCalledByEntry(),
            verification.ConditionNot(verification.ConditionScriptHash(CONTRACT)),
        ]
    )
    return [
        verification.WitnessRule(allow, nested),
        verification.WitnessRule(deny, verification.ConditionOr([verification.ConditionBool(True)])),
        verification.WitnessRule(allow, verification.ConditionCalledByGroup(GROUP)),
        verification.WitnessRule(allow, verification.ConditionCalledByContract(OTHER)),
        verification.WitnessRule(allow, verification.ConditionGroup(GROUP)),
    ]


SIGNER_CASES = {
    "called-by-entry": [verification.Signer(ACCOUNT)],
    "none-and-global": [
        verification.Signer(ACCOUNT, verification.WitnessScope.NONE),
        verification.Signer(OTHER, verification.WitnessScope.GLOBAL),
    ],
    "custom": [
        verification.Signer(
            ACCOUNT,
            verification.WitnessScope.CUSTOM_CONTRACTS | verification.WitnessScope.CUSTOM_GROUPS,
            allowed_contracts=[CONTRACT, OTHER],
            allowed_groups=[GROUP],
        )
    ],
    "rules": [verification.Signer(ACCOUNT, verification.WitnessScope.WITNESS_RULES, rules=_rules())],
}


@pytest.mark.parametrize("case", sorted(SIGNER_CASES))
def test_unsigned_transactions_round_trip_with_neo_mambas_bytes_and_hash(case: str) -> None:
    mamba = _mamba_tx(SIGNER_CASES[case], attributes=[HIGH_PRIORITY])
    data = mamba.to_array()[:-1]  # serialize() ends with the empty witness list
    parsed = neo_tx.parse_unsigned(data)
    assert neo_tx.serialize_unsigned(parsed) == data
    assert neo_tx.tx_hash(parsed) == mamba.hash().to_array()
    assert neo_tx.hash_text(neo_tx.tx_hash(parsed)) == f"0x{mamba.hash()}"
    assert parsed.sender == ACCOUNT.to_array()
    assert (parsed.nonce, parsed.system_fee, parsed.network_fee, parsed.valid_until_block) == (
        0xDEADBEEF,
        1_234_567,
        98_765,
        4242,
    )


def test_a_signed_oracle_response_transaction_round_trips() -> None:
    response = transaction.OracleResponse(7, transaction.OracleResponseCode.SUCCESS, b'{"a":1}')
    signers = [verification.Signer(ACCOUNT, verification.WitnessScope.NONE)]
    witnesses = [verification.Witness(b"\x0c\x40" + bytes(64), b"\x0c\x21" + bytes(33))]
    mamba = _mamba_tx(signers, attributes=[response], witnesses=witnesses)
    parsed = neo_tx.parse_transaction(mamba.to_array())
    assert parsed.attributes == (
        neo_tx.OracleResponseAttribute(7, neo_tx.OracleResponseCode.SUCCESS, b'{"a":1}'),
    )
    assert neo_tx.serialize(parsed) == mamba.to_array()
    assert neo_tx.tx_hash(parsed) == mamba.hash().to_array()
    # and back: a transaction the enclave builds is one neo-mamba reads
    again = transaction.Transaction.deserialize_from_bytes(neo_tx.serialize(parsed))
    assert again.hash() == mamba.hash()


def test_signing_message_and_witness_match_neo_mamba() -> None:
    key = cryptography.KeyPair(b"\x07" * 32)
    public_key = key.public_key.encode_point(True)
    mamba_script = contract_utils.create_signature_redeemscript(key.public_key)
    assert neo_tx.verification_script(public_key) == mamba_script
    assert neo_tx.account_of(public_key) == core_utils.to_script_hash(mamba_script).to_array()
    tx = neo_tx.parse_unsigned(_mamba_tx([verification.Signer(ACCOUNT)]).to_array()[:-1])
    assert neo_tx.signing_message(0x4F454E, tx) == (0x4F454E).to_bytes(4, "little") + neo_tx.tx_hash(tx)
    witness = neo_tx.signature_witness(public_key, bytes(range(64)))
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    assert witness.invocation == builder.emit_push(bytes(range(64))).to_array()


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b + b"\x00", id="trailing-byte"),
        pytest.param(lambda b: b"\x01" + b[1:], id="version-1"),
        pytest.param(lambda b: b[:-3], id="truncated"),
        pytest.param(lambda b: b[:46] + b"\x02" + b[47:], id="unknown-scope"),
    ],
)
def test_malformed_transactions_are_refused(mutate: object) -> None:
    data = _mamba_tx([verification.Signer(ACCOUNT)]).to_array()[:-1]
    assert callable(mutate)
    with pytest.raises(neo_tx.MalformedTransaction):
        neo_tx.parse_unsigned(mutate(data))


def test_a_non_canonical_var_int_is_refused() -> None:
    data = _mamba_tx([verification.Signer(ACCOUNT)]).to_array()[:-1]
    head = 1 + 4 + 8 + 8 + 4
    assert data[head] == 1
    stretched = data[:head] + b"\xfd\x01\x00" + data[head + 1 :]
    with pytest.raises(neo_tx.MalformedTransaction, match="canonical"):
        neo_tx.parse_unsigned(stretched)


def _mamba_script(*calls: tuple[types.UInt160, str, list[Any]]) -> bytes:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    for contract, method, args in calls:
        builder.emit_contract_call_with_args(contract, method, args)
    return bytes(builder.to_array())


def test_contract_calls_read_what_neo_mamba_writes() -> None:
    args: list[Any] = [5, -1, 16, 17, 127, 128, -129, 2**70, -(2**100), b"\x01" * 300, "name", True, False]
    args += [None, [1, [b"x", "y"]], {"k": 1, 2: [3]}, []]
    script = _mamba_script((CONTRACT, "fulfill", args), (OTHER, "deliver", [7]))
    calls = neo_tx.contract_calls(script)
    assert [(c.contract, c.method, c.call_flags) for c in calls] == [
        (CONTRACT.to_array(), "fulfill", int(callflags.CallFlags.ALL)),
        (OTHER.to_array(), "deliver", int(callflags.CallFlags.ALL)),
    ]
    assert calls[0].args == (
        5, -1, 16, 17, 127, 128, -129, 2**70, -(2**100), b"\x01" * 300, b"name", True, False, None,
        (1, (b"x", b"y")), Map(((b"k", 1), (2, (3,)))), (),
    )  # fmt: skip
    assert calls[0].contract_text == f"0x{CONTRACT}"
    assert neo_tx.call_script(calls) == script


def test_a_call_without_arguments_round_trips() -> None:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    builder.emit_contract_call(CONTRACT, "finish")
    script = bytes(builder.to_array())
    calls = neo_tx.contract_calls(script)
    assert calls == [ContractCall(CONTRACT.to_array(), "finish", 15, ())]
    assert neo_tx.call_script(calls) == script


LOG = b"\x41" + hashlib.sha256(b"System.Runtime.Log").digest()[:4]
CALL = b"\x41" + hashlib.sha256(b"System.Contract.Call").digest()[:4]
#: a call, then PUSH1 PACK (the first call's result as the argument) PUSH15 "b" <hash> CALL
RESULT_AS_ARGUMENT = _mamba_script((CONTRACT, "a", [])) + b"\x11\xc0\x1f\x0c\x01b\x0c\x14" + bytes(20) + CALL


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        pytest.param(b"\x11\x40", "instruction 0x40", id="ret"),
        pytest.param(b"\x22\x02" + _mamba_script((CONTRACT, "fulfill", [1])), "0x22", id="jump"),
        pytest.param(_mamba_script((CONTRACT, "fulfill", [1]))[:-4] + LOG, "system call", id="other-syscall"),
        pytest.param(b"\x11" + _mamba_script((CONTRACT, "fulfill", [1])), "no call uses", id="left-over"),
        pytest.param(_mamba_script((CONTRACT, "fulfill", [1]))[:-2], "end of data", id="truncated"),
        pytest.param(b"", "calls no contract", id="empty"),
        pytest.param(RESULT_AS_ARGUMENT, "result", id="result-as-argument"),
    ],
)  # fmt: skip
def test_scripts_other_than_contract_calls_are_refused(script: bytes, reason: str) -> None:
    with pytest.raises(neo_tx.MalformedTransaction, match=reason):
        neo_tx.contract_calls(script)
