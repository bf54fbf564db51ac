"""``contracts/neo3_boa.py`` (neo3-boa with its stack lookup made linear) compiles to the same ``.nef``
bytes as neo3-boa as shipped, and ``contracts/build.py`` writes manifests in one order (events by name,
union types sorted) and recompiles when the compiler wrapper changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.script_module import load_script

REPO = Path(__file__).resolve().parents[2]
#: small contracts (under a second each both ways) that use functions, unions and events
SOURCES = ("xmsg_sender.py", "price_consumer.py")


@pytest.fixture
def build() -> ModuleType:
    return load_script(REPO / "contracts" / "build.py", "nsl_contract_build_order")


def _compile(compiler: list[str], source: str, out: Path) -> tuple[bytes, dict[str, object]]:
    nef = out / source.replace(".py", ".nef")
    command = [*compiler, "compile", str(REPO / "contracts" / "examples" / source), "-o", str(nef)]
    subprocess.run([*command, "--project-path", str(REPO / "contracts")], check=True, capture_output=True)
    return nef.read_bytes(), json.loads(nef.with_suffix(".manifest.json").read_text())


@pytest.mark.parametrize("source", SOURCES)
def test_the_faster_compiler_gives_the_same_contract(source: str, build: ModuleType, tmp_path: Path) -> None:
    shipped, faster = tmp_path / "shipped", tmp_path / "faster"
    shipped.mkdir()
    faster.mkdir()
    nef, manifest = _compile([str(Path(sys.executable).with_name("neo3-boa"))], source, shipped)
    nef_fast, manifest_fast = _compile(
        [sys.executable, str(REPO / "contracts" / "neo3_boa.py")], source, faster
    )
    assert nef_fast == nef
    assert build._in_order(manifest_fast) == build._in_order(manifest)


def test_manifests_are_written_in_one_order(build: ModuleType) -> None:
    unordered = {
        "abi": {
            "methods": [
                {"name": "b", "parameters": [{"name": "x", "union": [{"type": "Void"}, {"type": "Any"}]}]}
            ],
            "events": [{"name": "Zeta", "parameters": []}, {"name": "Alpha", "parameters": []}],
        },
        "extra": None,
    }
    ordered = build._in_order(unordered)
    assert [e["name"] for e in ordered["abi"]["events"]] == ["Alpha", "Zeta"]
    assert ordered["abi"]["methods"][0]["parameters"][0]["union"] == [{"type": "Any"}, {"type": "Void"}]
    assert ordered["abi"]["methods"][0]["name"] == "b"  # methods keep their order (offsets follow it)
    assert ordered["extra"] is None


def test_the_stamp_covers_the_compiler_wrapper(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = REPO / "contracts" / "examples" / SOURCES[0]
    wrapper = tmp_path / "neo3_boa.py"
    wrapper.write_bytes((REPO / "contracts" / "neo3_boa.py").read_bytes())
    monkeypatch.setattr(build, "COMPILER", wrapper)
    before = build._stamp(source)
    wrapper.write_text(wrapper.read_text() + "\n# changed\n")
    assert build._stamp(source) != before
