"""``docs/reliability.md`` names the test behind every guarantee: each named test must exist.

A reference is ``tests/<path>.py`` or ``tests/<path>.py::test_name`` in backticks, anywhere in the page.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "reliability.md"
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_the_reliability_page_names_exists() -> None:
    cited = _REFERENCE.findall(DOC.read_text())
    assert len(cited) >= 10  # the references are found, not skipped
    missing = [
        f"{file}::{name}" if name else file
        for file, name in cited
        if not (REPO / file).exists() or (name and name not in _test_names(REPO / file))
    ]
    assert missing == []
