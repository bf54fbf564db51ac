"""The EVM sender's function table (``enclave/evm_tx_rules.py``) names functions the compiled service
contracts have, and none of their owner functions: a renamed or retyped function would otherwise leave
the service unable to send (or the table allowing a stale selector)."""

from __future__ import annotations

from typing import Any

from neo_service_layer.enclave.evm_tx_rules import OWNER_FUNCTIONS, SERVICE_FUNCTIONS, function_name
from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact

#: the contract each service name of the table is registered with
ARTIFACTS = {"randomness": "RandomnessService", "oracle": "OracleService", "crosschain": "MessageGateway"}


def _type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in entry["components"]) + ")" + entry["type"][len("tuple") :]
    return str(entry["type"])


def _signatures(artifact: str) -> set[str]:
    return {
        f"{e['name']}({','.join(_type(i) for i in e['inputs'])})"
        for e in load_artifact(artifact).abi
        if e["type"] == "function"
    }


def test_every_table_entry_is_a_function_of_its_contract(evm_contracts_built: None) -> None:
    assert set(SERVICE_FUNCTIONS) == set(ARTIFACTS)
    for service, signatures in SERVICE_FUNCTIONS.items():
        assert signatures <= _signatures(ARTIFACTS[service]), service


def test_the_contracts_owner_functions_are_named_as_such(evm_contracts_built: None) -> None:
    """Every ``onlyOwner`` setter the contracts have is in ``OWNER_FUNCTIONS`` (so a future table edit
    that adds one is refused at import)."""
    for artifact in ARTIFACTS.values():
        named = {function_name(s) for s in _signatures(artifact)}
        for name in named:
            if name.startswith(("set", "transfer", "withdraw")):
                assert name in OWNER_FUNCTIONS, (artifact, name)
