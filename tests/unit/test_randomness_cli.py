"""``nsl randomness verify`` with the V2 facts: from the answer, or from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neo_service_layer.services.randomness import rules
from neo_service_layer.services.randomness.cli import randomness_app
from tests.unit.test_randomness_verify import _answer

OFFCHAIN = rules.RandomnessFacts(0, bytes(20), 77, rules.offchain_consumer("acme"), bytes(range(32)))


def _hash(value: bytes) -> str:
    return "0x" + value[::-1].hex()


def _write(tmp_path: Path, facts: rules.RandomnessFacts, with_facts: bool) -> tuple[Path, list[str]]:
    proof, output, signature, bls_pk, ecdsa_pk = _answer(facts)
    answer: dict[str, object] = {
        "requestId": str(facts.request_id),
        "seed": facts.seed.hex(),
        "proof": proof.hex(),
        "output": output.hex(),
        "words": [str(w) for w in rules.derive_words(output, 2)],
        "signature": signature.hex(),
        "publicKey": ecdsa_pk.hex(),
        "blsPublicKey": bls_pk.hex(),
    }
    if with_facts:
        answer |= {
            "networkMagic": facts.magic,
            "contract": _hash(facts.contract),
            "consumer": _hash(facts.consumer),
        }
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    return path, [str(path)]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path / "data"))


def test_an_offchain_answer_carries_its_facts(tmp_path: Path) -> None:
    _path, args = _write(tmp_path, OFFCHAIN, with_facts=True)
    result = CliRunner().invoke(randomness_app, [*args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True
    as_json = CliRunner().invoke(randomness_app, [*args, "--json"])  # accepted: the same one document
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, json.loads(result.output))
    # the same answer claimed for a chain request (another magic, contract or consumer) fails
    for option, value in (
        ("--magic", "860833102"),
        ("--contract", _hash(bytes(range(20)))),
        ("--consumer", _hash(bytes(20))),
    ):
        result = CliRunner().invoke(randomness_app, [*args, option, value])
        assert result.exit_code == 1, option
        assert json.loads(result.output)["valid"] is False


def test_an_onchain_answer_takes_its_facts_from_options(tmp_path: Path) -> None:
    facts = rules.RandomnessFacts(894710606, bytes(range(20)), 5, bytes(range(40, 60)), bytes(32))
    _path, args = _write(tmp_path, facts, with_facts=False)
    missing = CliRunner().invoke(randomness_app, [*args])
    assert missing.exit_code == 2  # no network.json: the facts must be given
    given = [
        "--magic",
        str(facts.magic),
        "--contract",
        _hash(facts.contract),
        "--consumer",
        _hash(facts.consumer),
    ]
    result = CliRunner().invoke(randomness_app, [*args, *given])
    assert result.exit_code == 0, result.output
