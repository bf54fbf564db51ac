"""Compile the Solidity contracts under contracts/evm/ with solc-js into contracts/build/evm/ (no network).

One standard-JSON compilation of every ``.sol`` file under ``contracts/evm`` (imports between them are
resolved from that set; no import callback, no remote source). Each contract becomes
``contracts/build/evm/<ContractName>.json``: ``{"contractName", "sourceName", "abi", "bytecode",
"deployedBytecode", "compiler"}`` with hex byte strings ``0x...``. The whole set is recompiled only when
a source, the compiler version or the settings changed since the last build (recorded in
``contracts/build/evm/evm.stamp``); one build at a time (``evm.lock``).

The compiler is the npm package ``solc`` in ``.tools/node_modules`` (``make venv`` installs it), run by
``node``. Usage: ``python contracts/build_evm.py [--force]`` (``contracts/build.py`` calls it too).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
REPO = CONTRACTS_DIR.parent
SOURCE_DIR = CONTRACTS_DIR / "evm"
BUILD_DIR = CONTRACTS_DIR / "build" / "evm"
SOLC_PACKAGE = REPO / ".tools" / "node_modules" / "solc"
#: the compiler settings (part of the stamp). ``paris``: no PUSH0, so the bytecode runs on EVM chains
#: that have not adopted Shanghai as well as on later ones.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "paris",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
_COMPILE_JS = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def sources() -> list[Path]:
    """Every Solidity source, in a stable order."""
    return sorted(SOURCE_DIR.rglob("*.sol"))


def solc_version() -> str:
    """The installed solc-js version (from its package.json); raises ``SystemExit`` if it is missing."""
    try:
        return str(json.loads((SOLC_PACKAGE / "package.json").read_text())["version"])
    except (OSError, KeyError, ValueError):
        raise SystemExit(f"solc is not installed in {SOLC_PACKAGE.parent} (run `make venv`)") from None


def _stamp(files: list[Path]) -> str:
    lines = [f"solc {solc_version()}", f"settings {json.dumps(SETTINGS, sort_keys=True)}"]
    for path in files:
        lines.append(f"{path.relative_to(SOURCE_DIR)} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return "\n".join(lines) + "\n"


def _compile(files: list[Path]) -> tuple[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed to run solc-js")
    standard_input = {
        "language": "Solidity",
        "sources": {str(p.relative_to(SOURCE_DIR)): {"content": p.read_text()} for p in files},
        "settings": SETTINGS,
    }
    result = subprocess.run(
        [node, "-e", _COMPILE_JS, str(SOLC_PACKAGE)],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit("solc-js did not run")
    answer = json.loads(result.stdout)
    output: dict[str, Any] = answer["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    for problem in output.get("errors", []):
        sys.stderr.write(problem.get("formattedMessage", str(problem)))
    if errors:
        raise SystemExit("solc-js failed to compile contracts/evm")
    return str(answer["version"]), output


def build(*, force: bool = False) -> bool:
    """Compile unless the outputs are up to date; return True if it compiled."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with (BUILD_DIR / "evm.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(force=force)


def _build_locked(*, force: bool) -> bool:
    files = sources()
    stamp_file = BUILD_DIR / "evm.stamp"
    stamp = _stamp(files)
    if not force and stamp_file.exists() and stamp_file.read_text() == stamp:
        return False
    version, output = _compile(files)
    for source_name, contracts in sorted(output.get("contracts", {}).items()):
        for name, compiled in sorted(contracts.items()):
            artefact = {
                "contractName": name,
                "sourceName": source_name,
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                "compiler": f"solc-js {version}",
            }
            (BUILD_DIR / f"{name}.json").write_text(json.dumps(artefact, indent=1) + "\n")
    stamp_file.write_text(stamp)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="recompile even when up to date")
    args = parser.parse_args(argv)
    compiled = build(force=args.force)
    print(f"{'compiled' if compiled else 'up to date'}: contracts/evm ({len(sources())} sources)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
