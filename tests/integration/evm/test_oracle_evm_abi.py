"""The EVM oracle's compiled contracts: the ABI fragments ``services/oracle/adapters/evm_requests.py`` uses
are the compiled ``OracleService``'s own, and the consumer interface is the one the service calls."""

from __future__ import annotations

from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact
from neo_service_layer.services.oracle.adapters.evm_requests import ABI


def test_the_adapters_abi_fragments_are_the_compiled_ones(evm_contracts_built: None) -> None:
    compiled = {(e["type"], e.get("name")): e for e in load_artifact("OracleService").abi}
    for entry in ABI:
        theirs = compiled[(entry["type"], entry["name"])]
        assert [(i["name"], i["type"], i.get("indexed")) for i in theirs["inputs"]] == [
            (i["name"], i["type"], i.get("indexed")) for i in entry["inputs"]
        ]


def test_the_consumers_implement_the_callback_the_service_calls(evm_contracts_built: None) -> None:
    (callback,) = [e for e in load_artifact("IOracleConsumer").abi if e["type"] == "function"]
    signature = f"{callback['name']}({','.join(i['type'] for i in callback['inputs'])})"
    assert signature == "onOracleAnswer(uint256,uint8,bytes)"
    for name in ("OracleConsumer", "RefusingOracleConsumer"):
        functions = {e["name"]: e for e in load_artifact(name).abi if e["type"] == "function"}
        assert [i["type"] for i in functions["onOracleAnswer"]["inputs"]] == ["uint256", "uint8", "bytes"]
