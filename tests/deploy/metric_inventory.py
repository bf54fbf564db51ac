"""Every Prometheus metric the source defines, read from the code (not from a running process).

``python -m tests.deploy.metric_inventory`` prints name, type and labels as the rows of the table in
docs/metrics.md; tests/deploy/test_monitoring.py checks that the table lists exactly these.
Metrics are found as calls of ``Counter``, ``Gauge``, ``Histogram``, ``Summary`` or ``Info`` whose
name is a string literal starting with ``nsl_``, in every module of ``src/neo_service_layer``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "neo_service_layer"
KINDS = {
    "Counter": "counter",
    "Gauge": "gauge",
    "Histogram": "histogram",
    "Summary": "summary",
    "Info": "info",
}


@dataclass(frozen=True)
class Metric:
    name: str  # as exposed: counters with _total, info metrics with _info
    kind: str
    labels: tuple[str, ...]
    module: str


def _strings(node: ast.expr | None) -> tuple[str, ...]:
    if isinstance(node, ast.List | ast.Tuple):
        return tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return ()


def defined_metrics(source: Path = SOURCE) -> dict[str, Metric]:
    found: dict[str, Metric] = {}
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KINDS):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            name = node.args[0].value
            if not isinstance(name, str) or not name.startswith("nsl_"):
                continue
            kind = KINDS[node.func.id]
            if kind == "counter" and not name.endswith("_total"):
                name += "_total"
            if kind == "info":
                name += "_info"
            keywords = {k.arg: k.value for k in node.keywords}
            labels = _strings(node.args[2] if len(node.args) > 2 else keywords.get("labelnames"))
            found[name] = Metric(name, kind, labels, str(path.relative_to(source.parent)))
    return found


if __name__ == "__main__":
    for metric in defined_metrics().values():
        labels = ", ".join(f"`{label}`" for label in metric.labels)
        print(f"| `{metric.name}` | {metric.kind} | {labels} | | {metric.module} |")
