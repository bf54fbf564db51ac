"""The generic request pipeline knows no service: its modules import nothing from ``services``."""

from __future__ import annotations

import ast
from pathlib import Path

import neo_service_layer

CHAIN = Path(neo_service_layer.__file__).parent / "kernel" / "chain"
PIPELINE = [
    CHAIN / "rules.py",
    CHAIN / "ports" / "request_store.py",
    *(CHAIN / "use_cases").glob("*.py"),
    *(
        CHAIN / "adapters" / f"{name}.py"
        for name in (
            "tables",
            "payloads",
            "sql_support",
            "request_events",
            "outbox_writes",
            "outbox_store",
            "request_store",
        )
    ),
]


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_pipeline_imports_no_service() -> None:
    assert all(path.exists() for path in PIPELINE)
    leaks = {
        str(path.relative_to(CHAIN)): sorted(
            m for m in imported(path) if m.startswith("neo_service_layer.services")
        )
        for path in PIPELINE
    }
    assert {path: modules for path, modules in leaks.items() if modules} == {}
