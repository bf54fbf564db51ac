"""``contracts/build.py``: a contract's stamp covers the library modules it imports (directly or through
another library module), so changing a library recompiles every contract using it and no other."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.script_module import load_script

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script(REPO / "contracts" / "build.py", "nsl_contract_build_test")
    library = tmp_path / "lib"
    library.mkdir()
    (library / "service_admin.py").write_text("def only_owner():\n    pass\n")
    (library / "service_funds.py").write_text(
        "from neo_service_layer.kernel.chain.contracts.service_admin import only_owner\n"
    )
    monkeypatch.setattr(module, "LIBRARY_DIR", library)
    return module


def test_a_contract_stamp_covers_the_libraries_it_imports(build: ModuleType, tmp_path: Path) -> None:
    contract = tmp_path / "service.py"
    contract.write_text("from neo_service_layer.kernel.chain.contracts.service_funds import escrow_fee\n")
    plain = tmp_path / "consumer.py"
    plain.write_text("from boa3.sc import storage\n")
    library = tmp_path / "lib"
    assert build._libraries(contract) == [library / "service_funds.py", library / "service_admin.py"]
    assert build._libraries(plain) == []

    before, plain_before = build._stamp(contract), build._stamp(plain)
    (library / "service_admin.py").write_text("def only_owner():\n    assert False\n")
    assert build._stamp(contract) != before  # a library two imports away changed: recompile
    assert build._stamp(plain) == plain_before


def test_the_libraries_are_not_compiled_as_contracts(build: ModuleType) -> None:
    assert all("kernel" not in source.parts for source in build.SOURCES)
    assert {"randomness_service.py", "oracle_service.py", "price_feed.py"} <= {s.name for s in build.SOURCES}


def test_a_consumer_stamp_covers_the_consumer_library(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "consumer_lib"
    library.mkdir()
    (library / "nsl_service.py").write_text("def only_service(service, refusal):\n    pass\n")
    (library / "nsl_randomness.py").write_text("from lib.nsl_service import only_service\n")
    monkeypatch.setattr(build, "CONSUMER_LIBRARY_DIR", library)
    consumer = tmp_path / "dice.py"
    consumer.write_text("from boa3.sc import storage\n\nfrom lib.nsl_randomness import request_randomness\n")
    assert build._libraries(consumer) == [library / "nsl_randomness.py", library / "nsl_service.py"]

    before = build._stamp(consumer)
    (library / "nsl_service.py").write_text("def only_service(service, refusal):\n    assert False\n")
    assert build._stamp(consumer) != before  # the library changed: the consumer is recompiled


def test_consumers_resolve_the_library_under_contracts_and_services_under_src(build: ModuleType) -> None:
    dice = build.CONTRACTS_DIR / "examples" / "dice_consumer.py"
    assert build._project_path(dice) == build.CONTRACTS_DIR
    assert {p.name for p in build._libraries(dice)} == {"nsl_randomness.py", "nsl_service.py"}
    service = build.SERVICES_DIR / "randomness" / "contracts" / "randomness_service.py"
    assert build._project_path(service) == build.SRC_DIR
    assert all("lib" not in source.relative_to(build.CONTRACTS_DIR.parent).parts for source in build.SOURCES)
