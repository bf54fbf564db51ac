"""``contracts/build_evm.py`` compiles the Solidity contracts with solc-js, and the ABI fragments the
service's code uses are the compiled contract's own."""

from __future__ import annotations

from types import ModuleType

from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact
from neo_service_layer.services.randomness.adapters.evm_requests import ABI
from tests.anvil_support import REPO
from tests.script_module import load_script


def _build_module() -> ModuleType:
    return load_script(REPO / "contracts" / "build_evm.py", "nsl_build_evm_test")


def test_the_build_is_stamped_and_skipped_when_up_to_date(evm_contracts_built: None) -> None:
    build = _build_module()
    assert build.build() is False  # the session fixture built it: nothing changed since
    stamp = (build.BUILD_DIR / "evm.stamp").read_text()
    assert stamp.startswith(f"solc {build.solc_version()}\n")
    assert "RandomnessService.sol sha256 " in stamp
    for name in ("RandomnessService", "RandomnessConsumer", "RefusingRandomnessConsumer"):
        artifact = load_artifact(name)
        assert artifact.bytecode
        assert artifact.abi


def test_the_services_abi_fragments_are_the_compiled_ones(evm_contracts_built: None) -> None:
    compiled = {(e["type"], e.get("name")): e for e in load_artifact("RandomnessService").abi}
    for entry in ABI:
        theirs = compiled[(entry["type"], entry["name"])]
        assert [(i["name"], i["type"], i.get("indexed")) for i in theirs["inputs"]] == [
            (i["name"], i["type"], i.get("indexed")) for i in entry["inputs"]
        ]
