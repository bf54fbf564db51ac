"""Compile every contract with neo3-boa into contracts/build/ (no network): each service's contracts
(``src/neo_service_layer/services/<name>/contracts/``) and the example consumers in contracts/examples/.

Usage: ``python contracts/build.py [--force]``. A contract is recompiled only when its source or the
compiler version changed since the last build (recorded in contracts/build/<name>.stamp).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent
BUILD_DIR = CONTRACTS_DIR / "build"
SERVICES_DIR = CONTRACTS_DIR.parent / "src" / "neo_service_layer" / "services"
#: every contract: the services' own, then the example consumers (a new file is picked up without
#: editing this list)
SOURCES = tuple(
    sorted(SERVICES_DIR.glob("*/contracts/*.py")) + sorted((CONTRACTS_DIR / "examples").glob("*.py"))
)


def _stamp(source: Path) -> str:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return f"neo3-boa {version('neo3-boa')}\nsha256 {digest}\n"


def _outputs(source: Path) -> tuple[Path, Path, Path]:
    name = source.stem
    return BUILD_DIR / f"{name}.nef", BUILD_DIR / f"{name}.manifest.json", BUILD_DIR / f"{name}.stamp"


def build(source: Path, *, force: bool = False) -> bool:
    """Compile ``source`` unless its outputs are up to date; return True if it was compiled."""
    nef, manifest, stamp_file = _outputs(source)
    stamp = _stamp(source)
    fresh = nef.exists() and manifest.exists() and stamp_file.exists() and stamp_file.read_text() == stamp
    if fresh and not force:
        return False
    compiler = Path(sys.executable).with_name("neo3-boa")
    # the input file must come first: options after it are not parsed reliably
    command = [str(compiler), "compile", str(source), "-o", str(nef)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not nef.exists():
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"neo3-boa failed to compile {source.name}")
    stamp_file.write_text(stamp)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="recompile even when up to date")
    args = parser.parse_args(argv)
    BUILD_DIR.mkdir(exist_ok=True)
    for source in SOURCES:
        compiled = build(source, force=args.force)
        print(f"{'compiled' if compiled else 'up to date'}: {source.relative_to(CONTRACTS_DIR.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
