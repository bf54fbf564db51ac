"""Compile every contract with neo3-boa into contracts/build/ (no network): each service's contracts
(``src/neo_service_layer/services/<name>/contracts/``) and the example consumers in contracts/examples/;
then the Solidity contracts of Neo X under contracts/evm/ with solc-js (``contracts/build_evm.py``).

Usage: ``python contracts/build.py [--force]``. A contract is recompiled only when its source, a
library module it imports, directly or through another (``src/neo_service_layer/kernel/chain/contracts/``
for the services, ``contracts/lib/`` for consumers; never compiled on their own) or the compiler
(neo3-boa's version, ``contracts/neo3_boa.py``) changed since the last build (recorded in
contracts/build/<name>.stamp). neo3-boa runs through ``contracts/neo3_boa.py`` (its cubic stack
lookup made linear: the same ``.nef`` bytes, 18 s instead of 220 s for all on 2 cores), and each
manifest is written with its events and union types in sorted order (``_in_order``): neo3-boa's own
order follows memory addresses.

neo3-boa resolves a user module with ``importlib.util.find_spec`` on ``[--project-path, the importing
file's folder]``: the services import ``neo_service_layer.kernel.chain.contracts.<module>`` under
``--project-path src``; the consumers under ``contracts/`` import ``lib.<module>`` (``contracts/lib``)
under ``--project-path contracts``, which ``src`` could not reach.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
BUILD_DIR = CONTRACTS_DIR / "build"
SRC_DIR = CONTRACTS_DIR.parent / "src"
SERVICES_DIR = SRC_DIR / "neo_service_layer" / "services"
#: the neo3-boa library modules the service contracts share (imported as
#: ``neo_service_layer.kernel.chain.contracts.<module>``, resolved under ``--project-path src``)
LIBRARY_DIR = SRC_DIR / "neo_service_layer" / "kernel" / "chain" / "contracts"
LIBRARY_PACKAGE = "neo_service_layer.kernel.chain.contracts."
#: the consumer library dApps import (``lib.<module>``, resolved under ``--project-path contracts``)
CONSUMER_LIBRARY_DIR = CONTRACTS_DIR / "lib"
CONSUMER_LIBRARY_PACKAGE = "lib."
#: every contract: the services' own, then the example consumers (a new file is picked up without
#: editing this list)
SOURCES = tuple(
    sorted(SERVICES_DIR.glob("*/contracts/*.py")) + sorted((CONTRACTS_DIR / "examples").glob("*.py"))
)
#: neo3-boa's command line with its cubic stack lookup made linear, same output (``neo3_boa.py``)
COMPILER = CONTRACTS_DIR / "neo3_boa.py"


def _libraries(source: Path, seen: frozenset[Path] = frozenset()) -> list[Path]:
    """The library modules ``source`` imports, directly or through another library module."""
    found: list[Path] = []
    text = source.read_text()
    for package, folder in ((LIBRARY_PACKAGE, LIBRARY_DIR), (CONSUMER_LIBRARY_PACKAGE, CONSUMER_LIBRARY_DIR)):
        pattern = r"^\s*(?:from|import)\s+" + re.escape(package) + r"(\w+)"
        for module in sorted(set(re.findall(pattern, text, re.MULTILINE))):
            path = folder / f"{module}.py"
            if path.exists() and path not in seen and path not in found:
                found.append(path)
                found.extend(p for p in _libraries(path, seen | {path, *found}) if p not in found)
    return found


def _stamp(source: Path) -> str:
    lines = [
        f"neo3-boa {version('neo3-boa')}",
        f"compiler {hashlib.sha256(COMPILER.read_bytes()).hexdigest()} manifest in order",
        f"sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}",
    ]
    for library in sorted(_libraries(source)):
        digest = hashlib.sha256(library.read_bytes()).hexdigest()
        lines.append(f"library {library.name} sha256 {digest}")
    return "\n".join(lines) + "\n"


def _project_path(source: Path) -> Path:
    """Where neo3-boa looks for the modules ``source`` imports: ``contracts`` for the consumers beside
    this file (``lib.<module>``), ``src`` for the services (``neo_service_layer...``)."""
    return CONTRACTS_DIR if source.is_relative_to(CONTRACTS_DIR) else SRC_DIR


def _outputs(source: Path) -> tuple[Path, Path, Path]:
    name = source.stem
    return BUILD_DIR / f"{name}.nef", BUILD_DIR / f"{name}.manifest.json", BUILD_DIR / f"{name}.stamp"


def build(source: Path, *, force: bool = False) -> bool:
    """Compile ``source`` unless its outputs are up to date; return True if it was compiled.

    One build of a contract at a time (a lock file per contract): a second process waits for the first
    and then finds the outputs fresh, instead of compiling the same source again beside it.
    """
    BUILD_DIR.mkdir(exist_ok=True)
    with (BUILD_DIR / f"{source.stem}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(source, force=force)


def _build_locked(source: Path, *, force: bool) -> bool:
    nef, manifest, stamp_file = _outputs(source)
    stamp = _stamp(source)
    fresh = nef.exists() and manifest.exists() and stamp_file.exists() and stamp_file.read_text() == stamp
    if fresh and not force:
        return False
    # the input file must come first: options after it are not parsed reliably
    project = _project_path(source)
    command = [
        sys.executable,
        str(COMPILER),
        "compile",
        str(source),
        "-o",
        str(nef),
        "--project-path",
        str(project),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not nef.exists():
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"neo3-boa failed to compile {source.name}")
    manifest.write_text(json.dumps(_in_order(json.loads(manifest.read_text())), indent=4))
    stamp_file.write_text(stamp)
    return True


def _in_order(value: Any) -> Any:
    """The manifest with its events sorted by name and each union's types in one order.

    neo3-boa takes both from sets of objects hashed by identity, so their order follows memory layout
    and changed with any change to the compiler's allocations (the ``.nef`` does not). Neither order
    means anything to the chain (events are found by name); sorted, the same source gives the same
    manifest on every machine."""
    if isinstance(value, list):
        return [_in_order(item) for item in value]
    if not isinstance(value, dict):
        return value
    ordered = {key: _in_order(item) for key, item in value.items()}
    if isinstance(ordered.get("events"), list):
        ordered["events"] = sorted(ordered["events"], key=lambda event: str(event.get("name")))
    if isinstance(ordered.get("union"), list):
        ordered["union"] = sorted(ordered["union"], key=lambda member: json.dumps(member, sort_keys=True))
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="recompile even when up to date")
    args = parser.parse_args(argv)
    BUILD_DIR.mkdir(exist_ok=True)
    # one neo3-boa process per core (each compile is single-threaded, 7 s for the largest through
    # neo3_boa.py); results are printed in source order, and a failure stops the build once the running
    # ones end
    with ThreadPoolExecutor(max_workers=os.process_cpu_count() or 1) as pool:
        results = pool.map(lambda source: build(source, force=args.force), _largest_first(SOURCES))
        done = dict(zip(_largest_first(SOURCES), results, strict=True))
    for source in SOURCES:
        print(f"{'compiled' if done[source] else 'up to date'}: {source.relative_to(CONTRACTS_DIR.parent)}")
    return _build_evm(force=args.force)


def _largest_first(sources: tuple[Path, ...]) -> list[Path]:
    """The longest compiles start first, so the last one to start is short (source size as the guide)."""
    return sorted(sources, key=lambda source: source.stat().st_size, reverse=True)


def _build_evm(*, force: bool) -> int:
    """The Solidity contracts of Neo X (``contracts/build_evm.py``, beside this file)."""
    spec = importlib.util.spec_from_file_location("nsl_build_evm", CONTRACTS_DIR / "build_evm.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(["--force"] if force else []))


if __name__ == "__main__":
    raise SystemExit(main())
