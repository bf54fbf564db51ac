"""Off-chain verification of real answers from a real enclave (through a live ``nsl serve``): each
helper accepts the answer as it came and refuses it after any change to any byte it covers.

The trusted keys come from the platform attestation report, itself checked offline first."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel

from neo_service_layer.enclave.platforms import simulation_measurement
from nsl_client import Client
from nsl_client.attestation import verify_attestation_report
from nsl_client.verify import decode_result, verify_compute_receipt, verify_oracle_answer, verify_randomness
from tests.client.live import Live
from tests.client.scripted_server import Answer, scripted_server
from tests.unit.enclave.wat_functions import ECHO_FOUR

HEX = re.compile(r"^(0x)?([0-9a-fA-F]{2})+$")


def _flips(text: str) -> Iterator[str]:
    """``text`` with each byte changed in turn (hex), or each character (other text)."""
    if HEX.match(text):
        prefix, body = ("0x", text[2:]) if text.startswith("0x") else ("", text)
        raw = bytes.fromhex(body)
        for i in range(len(raw)):
            yield prefix + (raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]).hex()
    else:
        for i in range(len(text)):
            yield text[:i] + chr(ord(text[i]) ^ 0x01) + text[i + 1 :]
        yield text + "x"


def mutations(model: BaseModel, fields: list[str]) -> Iterator[tuple[str, BaseModel]]:
    """Copies of ``model`` with one byte (or number) of one of ``fields`` changed."""
    for name in fields:
        value = getattr(model, name)
        variants: list[Any]
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            variants = [value + 1, value ^ 1 if value else 1]
        elif isinstance(value, str):
            variants = list(_flips(value))
        else:
            variants = [
                [str(int(w) + 1) if j == i else w for j, w in enumerate(value)] for i in range(len(value))
            ]
        for variant in variants:
            yield name, model.model_copy(update={name: variant})


def _refused_everywhere(model: BaseModel, fields: list[str], check: Callable[[Any], bool]) -> int:
    count = 0
    for name, changed in mutations(model, fields):
        assert not check(changed), f"a change to {name} was accepted"
        count += 1
    return count


@pytest.fixture(scope="module")
def trusted(live: Live) -> dict[str, bytes]:
    """The platform's service keys, taken from a platform attestation report verified offline."""
    nonce = os.urandom(16)
    platform_key = ed25519.Ed25519PrivateKey.from_private_bytes(
        (live.data_dir / "enclave" / "platform.key").read_bytes()
    ).public_key()
    with Client(live.base_url, api_key=live.api_key) as client:
        attested = client.platform_attestation(nonce)
    check = verify_attestation_report(
        attested.report,
        nonce=nonce,
        allowed_measurements=[simulation_measurement()],
        accept_simulation=True,
        simulation_platform_keys=[platform_key.public_bytes_raw()],
        expected_public_keys=[bytes.fromhex(k["public_key"]) for k in attested.keys.values()],
    )
    assert check.ok, check.problems
    return {role: bytes.fromhex(key["public_key"]) for role, key in attested.keys.items()}


def test_an_attestation_report_verifies_offline_and_any_change_is_refused(live: Live, tmp_path: Path) -> None:
    nonce = os.urandom(32)
    platform = ed25519.Ed25519PrivateKey.from_private_bytes(
        (live.data_dir / "enclave" / "platform.key").read_bytes()
    ).public_key()
    with Client(live.base_url, api_key=live.api_key) as client:
        key = client.create_key("secp256r1", "attested", ["message"])
        report = client.attestation_report(nonce, key_id=key.key_id)
    options: dict[str, Any] = {
        "allowed_measurements": [simulation_measurement()],
        "accept_simulation": True,
        "simulation_platform_keys": [platform.public_bytes_raw()],
        "expected_public_keys": [bytes.fromhex(key.public_key)],
    }
    good = verify_attestation_report(report, nonce=nonce, **options)
    assert good.ok, good.problems
    assert good.mode == "simulation"
    assert not verify_attestation_report(report, nonce=os.urandom(32), **options).ok
    assert not verify_attestation_report(report, nonce=nonce, **{**options, "accept_simulation": False}).ok
    assert not verify_attestation_report(
        report, nonce=nonce, **{**options, "allowed_measurements": ["00" * 32]}
    ).ok
    changed = 0
    for path in (("report_data",), ("nonce",), ("evidence", "signature"), ("evidence", "measurement")):
        parent = report
        for step in path[:-1]:
            parent = parent[step]
        original = parent[path[-1]]
        for variant in _flips(original):
            parent[path[-1]] = variant
            assert not verify_attestation_report(report, nonce=nonce, **options).ok, path
            changed += 1
        parent[path[-1]] = original
    bound = report["keys"][0]
    for variant in _flips(bound["public_key"]):
        report["keys"][0] = {**bound, "public_key": variant}
        assert not verify_attestation_report(report, nonce=nonce, **options).ok
    assert changed > 100


def test_a_randomness_answer_verifies_offline_and_any_changed_byte_fails(
    live: Live, trusted: dict[str, bytes]
) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        answer = client.randomness(3, seed=os.urandom(32))
    ecdsa, bls = bytes.fromhex(answer.public_key), bytes.fromhex(answer.bls_public_key)
    assert ecdsa in trusted.values()
    assert bls in trusted.values()
    assert verify_randomness(answer, ecdsa, bls_public_key=bls)
    assert not verify_randomness(answer, bytes.fromhex("02" + "11" * 32))
    fields = list(type(answer).model_fields)
    count = _refused_everywhere(answer, fields, lambda a: verify_randomness(a, ecdsa, bls_public_key=bls))
    assert count > 300


def test_an_oracle_answer_verifies_offline_and_any_changed_byte_fails(
    live: Live, trusted: dict[str, bytes]
) -> None:
    with scripted_server() as upstream:
        upstream.script.on("GET", "/price", Answer(200, {"pair": "NEO/USD", "price": "12.34"}))
        with Client(live.base_url, api_key=live.api_key) as client:
            answer = client.oracle_fetch(f"{upstream.base_url}/price", filter="$.price")
    assert answer.code_name == "SUCCESS", answer.detail
    assert answer.result_text == '"12.34"' or answer.result_text == "12.34"
    key = bytes.fromhex(answer.public_key)
    assert key in trusted.values()
    assert verify_oracle_answer(answer, key)
    signed = [
        "request_id", "code", "result", "result_text", "timestamp", "network_magic", "contract",
        "consumer", "url", "filter", "signature", "public_key",
    ]  # fmt: skip
    assert _refused_everywhere(answer, signed, lambda a: verify_oracle_answer(a, key)) > 150


def test_a_compute_receipt_verifies_offline_and_any_changed_byte_fails(
    live: Live, trusted: dict[str, bytes]
) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        function = client.create_function("echo", "wasm", module=ECHO_FOUR, limits={"fuel": 10**8})
        run = client.run_function(function.function_id, {"pad": "z"})
        published = bytes.fromhex(client.compute_key().public_key)
    assert run.outcome == "success"
    assert published in trusted.values()
    result = decode_result(run.result_base64)
    assert result == b'{"pad":"z"}' * 4
    receipt = run.receipt
    assert verify_compute_receipt(receipt, published, result=result, input={"pad": "z"}, check_input=True)
    assert not verify_compute_receipt(receipt, published, result=result + b" ")
    assert not verify_compute_receipt(receipt, published, input={"pad": "y"}, check_input=True)
    # every field but key_version, which the receipt names and does not sign (as the server's check)
    fields = [name for name in type(receipt).model_fields if name != "key_version"]
    assert _refused_everywhere(receipt, fields, lambda r: verify_compute_receipt(r, published)) > 200
    assert base64.b64decode(run.result_base64) == result


def test_the_server_verifies_a_genuine_randomness_answer_and_refuses_a_changed_one(
    live: Live, trusted: dict[str, bytes]
) -> None:
    """The server's check covers the BLS pairing of the proof, which the offline one leaves out."""
    with Client(live.base_url, api_key=live.api_key) as client:
        answer = client.randomness(2, seed=os.urandom(32))
        good = client.verify_randomness_remote(answer)
        assert (good.valid, good.proof, good.output, good.words, good.signature) == (
            True,
            True,
            True,
            True,
            True,
        )
        assert bytes.fromhex(good.bls_public_key) in trusted.values()
        assert good.public_key == answer.public_key
        word = answer.words[0]
        changed_word = client.verify_randomness_remote(
            answer.model_copy(update={"words": [str(int(word) + 1), *answer.words[1:]]})
        )
        assert (changed_word.valid, changed_word.words, changed_word.proof) == (False, False, True)
        flipped = next(_flips(answer.proof))
        changed_proof = client.verify_randomness_remote(answer.model_copy(update={"proof": flipped}))
        assert (changed_proof.valid, changed_proof.proof) == (False, False)
        other_seed = client.verify_randomness_remote(answer.model_copy(update={"seed": os.urandom(32).hex()}))
        assert not other_seed.valid
        stranger = client.verify_randomness_remote(answer.model_copy(update={"public_key": "02" + "11" * 32}))
        assert not stranger.valid


def test_the_server_verifies_a_genuine_oracle_answer_and_refuses_a_changed_one(
    live: Live, trusted: dict[str, bytes]
) -> None:
    with scripted_server() as upstream:
        upstream.script.on("GET", "/rate", Answer(200, {"rate": 7}))
        with Client(live.base_url, api_key=live.api_key) as client:
            answer = client.oracle_fetch(f"{upstream.base_url}/rate", filter="$.rate")
            good = client.verify_oracle_remote(answer)
            assert good.valid
            assert bytes.fromhex(good.public_key) in trusted.values()
            for name, value in (
                ("result", next(_flips(answer.result))),
                ("timestamp", answer.timestamp + 1),
                ("url", answer.url + "x"),
                ("signature", next(_flips(answer.signature))),
            ):
                assert not client.verify_oracle_remote(answer.model_copy(update={name: value})).valid, name


def test_the_server_verifies_a_genuine_compute_receipt_and_refuses_a_changed_one(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        function = client.create_function("echo-remote", "wasm", module=ECHO_FOUR, limits={"fuel": 10**8})
        run = client.run_function(function.function_id, {"pad": "r"})
        result = decode_result(run.result_base64)
        good = client.verify_receipt_remote(run.receipt, result=result, input={"pad": "r"}, check_input=True)
        assert (good.valid, good.problems) == (True, [])
        assert client.verify_receipt_remote(run.receipt).valid
        wrong_result = client.verify_receipt_remote(run.receipt, result=result + b" ")
        assert not wrong_result.valid
        assert wrong_result.problems
        assert not client.verify_receipt_remote(run.receipt, input={"pad": "s"}, check_input=True).valid
        assert not client.verify_receipt_remote(run.receipt, input=None, check_input=True).valid
        tampered = run.receipt.model_copy(update={"code": run.receipt.code + 1})
        assert not client.verify_receipt_remote(tampered).valid
