"""A minimal wasmtime runner for built functions, with a recording fake of the nsl:compute/host imports.

Just enough of a sandbox to check what the builders produce (the real runtime is the compute service's
own): WASI with an empty configuration, and host functions that answer from dictionaries the test fills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import component

HOST = "nsl:compute/host@0.1.0"


@dataclass
class FakeHost:
    """Host imports answered from ``secrets`` and ``responses`` (url -> status, headers, body)."""

    secrets: dict[str, str] = field(default_factory=dict)
    responses: dict[str, tuple[int, list[tuple[str, str]], bytes]] = field(default_factory=dict)
    now: int = 1_700_000_000_123
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def fetch(self, _store: Any, request: Any) -> Any:
        self.calls.append(("fetch", (request.method, request.url, list(request.headers), request.body)))
        if request.url not in self.responses:
            return f"fetch refused: {request.url} is not allowed"  # the err case of the result
        status, headers, body = self.responses[request.url]
        response: Any = component.Record()
        response.status, response.headers, response.body = status, headers, body
        return response

    def secret(self, _store: Any, name: str) -> component.Variant:
        self.calls.append(("secret", name))
        if name in self.secrets:
            return component.Variant("ok", self.secrets[name])
        return component.Variant("err", f"no secret named {name}")

    def now_ms(self, _store: Any) -> int:
        self.calls.append(("now-ms", None))
        return self.now

    def random_bytes(self, _store: Any, n: int) -> bytes:
        self.calls.append(("random-bytes", n))
        return bytes((7 * i + 1) % 256 for i in range(n))


@dataclass(frozen=True)
class Outcome:
    ok: bytes | None = None
    error: str | None = None


class Runner:
    """One compiled component; each ``run`` is a fresh store and instance, like a real run."""

    def __init__(self, engine: wasmtime.Engine, compiled: component.Component) -> None:
        self.engine = engine
        self.component = compiled

    def imports(self) -> list[str]:
        """The names of the component's imports (interfaces it needs from the runtime)."""
        return sorted(self.component.type.imports(self.engine))

    def run(self, host: FakeHost, input_json: str) -> Outcome:
        linker = component.Linker(self.engine)
        linker.add_wasip2()
        with linker.root() as root, root.add_instance(HOST) as instance:
            instance.add_func("fetch", host.fetch)
            instance.add_func("secret", host.secret)
            instance.add_func("now-ms", host.now_ms)
            instance.add_func("random-bytes", host.random_bytes)
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasmtime.WasiConfig())
        run = linker.instantiate(store, self.component).get_func(store, "run")
        assert run is not None
        result = run(store, input_json)
        if isinstance(result, bytes):
            return Outcome(ok=result)
        assert isinstance(result, str), result
        return Outcome(error=result)
