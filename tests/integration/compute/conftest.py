"""Built example functions, shared by the compute tests: each language is built once per session.

A build takes 15-45 s, so the component bytes are cached under .pytest_cache keyed by the hash of the
source, the builder's own files (guest helpers, entry modules, scripts, WIT) and the tool versions: a
change to any of them builds again. The suite runs in several processes (pytest-xdist): each cache entry
is made under a file lock, by one process while the others wait for it, and appears whole (written
beside it, then renamed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wasmtime
from wasmtime import component

from neo_service_layer.services.compute.adapters import build_common, build_javascript, build_python
from neo_service_layer.services.compute.adapters.builders import build
from tests.conftest import IN_CI
from tests.integration.compute.harness import Runner

FUNCTIONS = Path(__file__).with_name("functions")
EXAMPLES = {"python": FUNCTIONS / "price_report.py", "javascript": FUNCTIONS / "price_report.js"}


def _builder_fingerprint() -> str:
    digest = hashlib.sha256()
    package = build_common.PACKAGE_DIR
    # Only the builder's own files: others in the adapters package do not change what it builds.
    builder = ["build_common.py", "build_python.py", "build_javascript.py", "builders.py", "componentize.mjs"]
    files = [*(package / name for name in builder), *sorted(package.glob("guest/*.*"))]
    for path in [*files, *sorted(build_common.WIT_DIR.glob("*.wit"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(build_python.COMPONENTIZE_PY_VERSION.encode())
    digest.update(" ".join(build_javascript.NPM_PACKAGES).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _made_once(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock: whoever finds ``path`` missing inside makes it, the others wait and read it."""
    with path.with_name(path.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_whole(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def tools_missing(language: str) -> str | None:
    """Why ``language`` cannot be built here, or None."""
    settings = build_common.BuildSettings()
    try:
        if language == "python":
            build_python._tool(settings)
        else:
            build_javascript._node(settings)
            build_javascript._check_tools(settings)
    except build_common.BuildFailed as error:
        return error.message
    return None


def require_tools(language: str) -> None:
    """Skip locally, fail in CI, when the builder's tools are not installed (make venv installs them)."""
    if (reason := tools_missing(language)) is not None:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def build_cached(request: pytest.FixtureRequest) -> Callable[[str, str], bytes]:
    """``build_cached(language, source)``: the component, built at most once per source and builder."""
    cache_dir = request.config.cache.mkdir("nsl-compute-builds")
    fingerprint = _builder_fingerprint()

    def get(language: str, source: str) -> bytes:
        require_tools(language)
        key = hashlib.sha256(f"{fingerprint}\0{language}\0{source}".encode()).hexdigest()[:32]
        path = cache_dir / f"{language}-{key}.wasm"
        with _made_once(path):
            if path.is_file():
                return path.read_bytes()
            wasm = asyncio.run(build(language, source))
            _write_whole(path, wasm)
        return wasm

    return get


@pytest.fixture(scope="session")
def wasm_engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@pytest.fixture(scope="session")
def runner_for(
    request: pytest.FixtureRequest, build_cached: Callable[[str, str], bytes], wasm_engine: wasmtime.Engine
) -> Callable[[str, str], Runner]:
    """``runner_for(language, source)``: a Runner for the built source. Compiling a 12-19 MB component
    takes 10-30 s, so the compiled code is cached too (wasmtime's own serialisation, keyed by the
    component and wasmtime's version); the cache is this test run's own, never loaded from elsewhere."""
    cache_dir = request.config.cache.mkdir("nsl-compute-builds")
    runners: dict[tuple[str, str], Runner] = {}

    def get(language: str, source: str) -> Runner:
        if (language, source) not in runners:
            wasm = build_cached(language, source)
            key = hashlib.sha256(f"{_wasmtime_version()}\0".encode() + wasm).hexdigest()[:32]
            path = cache_dir / f"compiled-{key}.cwasm"
            with _made_once(path):
                if path.is_file():
                    compiled = component.Component.deserialize(wasm_engine, path.read_bytes())
                else:
                    compiled = component.Component(wasm_engine, wasm)
                    _write_whole(path, compiled.serialize())
            runners[language, source] = Runner(wasm_engine, compiled)
        return runners[language, source]

    return get


def _wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


@pytest.fixture(scope="session")
def example_runner(runner_for: Callable[[str, str], Runner]) -> Callable[[str], Runner]:
    """``example_runner(language)``: a Runner for the price-report example."""
    return lambda language: runner_for(language, EXAMPLES[language].read_text())
