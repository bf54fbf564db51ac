"""``docs/security.md`` names a test behind every "cannot": each named test must exist.

A row cites ``tests/<path>.py::test_name`` and may continue with ``::other_name`` for more tests of the
same file. A renamed or deleted test would leave a "cannot" with nothing behind it; this fails then.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
_CELL_REFERENCES = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _cited() -> list[tuple[str, str | None]]:
    """(file, test) pairs in the order cited; a bare ``::name`` belongs to the last file named."""
    cited: list[tuple[str, str | None]] = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        current: str | None = None
        for path, name in _CELL_REFERENCES.findall(line):
            if path:
                current = path
            if current is not None and (path or name):
                cited.append((current, name or None))
    return cited


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_the_threat_model_names_exists() -> None:
    cited = _cited()
    assert len(cited) > 50  # the table is parsed, not skipped
    missing: list[str] = []
    names: dict[str, set[str]] = {}
    for file, name in cited:
        path = REPO / file
        if not path.exists():
            missing.append(file)
            continue
        if name is not None and name not in names.setdefault(file, _test_names(path)):
            missing.append(f"{file}::{name}")
    assert missing == []
