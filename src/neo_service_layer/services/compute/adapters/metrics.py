"""Prometheus metrics of the compute service (``ports.ComputeObserver``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: wasmtime fuel (instructions): from a trivial WAT call to the operator's default maximum
FUEL_BUCKETS = (1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 2e9, 5e9, 1e10, 2e10)
WALL_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ComputeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._runs = Counter(
            "nsl_compute_runs_total",
            "Function runs by outcome (success, function_error, trap, fuel_exhausted, memory_limit, timeout,"
            " fetch_refused, result_too_large, secret_unavailable, not_found, invalid_module, forbidden,"
            " bad_input) and where they were asked (offchain, onchain).",
            ["outcome", "where"],
            registry=registry,
        )
        self._fuel = Histogram(
            "nsl_compute_run_fuel",
            "Fuel (wasmtime instructions) a run used.",
            buckets=FUEL_BUCKETS,
            registry=registry,
        )
        self._wall = Histogram(
            "nsl_compute_run_seconds",
            "Wall time of a run inside the sandbox (instantiation and the function).",
            buckets=WALL_BUCKETS,
            registry=registry,
        )

    def run(self, outcome: str, where: str, fuel: int, wall_ms: int) -> None:
        self._runs.labels(outcome, where).inc()
        self._fuel.observe(fuel)
        self._wall.observe(wall_ms / 1000)
