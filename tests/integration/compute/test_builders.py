"""The build adapters: Python and JavaScript sources built into components and run under wasmtime.

Builds are slow (15-45 s each), so every function here is built once per session and cached (see
conftest.py); the failure cases that the builder catches before running a tool take milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.services.compute.adapters import build_javascript, build_python
from neo_service_layer.services.compute.adapters.build_common import BuildFailed, BuildSettings
from neo_service_layer.services.compute.adapters.builders import build
from tests.integration.compute.conftest import EXAMPLES, FUNCTIONS, require_tools
from tests.integration.compute.harness import FakeHost, Outcome, Runner

pytestmark = pytest.mark.slow

LANGUAGES = ["python", "javascript"]
SHAPES = {"python": FUNCTIONS / "shapes.py", "javascript": FUNCTIONS / "shapes.js"}
PRICES_URL = "https://prices.example/v1/items"
ITEMS = [
    {"name": "apple", "price_cents": 120, "qty": 3},
    {"name": "pear", "price_cents": 95, "qty": 10},
    {"name": "fig", "price_cents": 410, "qty": 1},
    {"name": "kiwi", "price_cents": 60, "qty": 7},
    {"name": "plum", "price_cents": 75, "qty": 4},
]


def _prices_host(items: list[dict[str, Any]] | None = None) -> FakeHost:
    body = json.dumps({"items": ITEMS if items is None else items}).encode()
    return FakeHost(
        secrets={"api_key": "key-123"},
        responses={PRICES_URL: (200, [("Content-Type", "application/json")], body)},
    )


@pytest.fixture(scope="module")
def shapes(runner_for: Callable[[str, str], Runner]) -> Callable[[str], Runner]:
    return lambda language: runner_for(language, SHAPES[language].read_text())


def _run_shape(
    shapes: Callable[[str], Runner], language: str, host: FakeHost | None = None, **input_: Any
) -> Outcome:
    return shapes(language).run(host or FakeHost(), json.dumps(input_))


# ---- the example function: fetch with a secret, compute, return > 256 bytes --------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_fetches_with_the_secret_and_reports(
    language: str, example_runner: Callable[[str], Runner]
) -> None:
    host = _prices_host()
    outcome = example_runner(language).run(host, json.dumps({"url": PRICES_URL, "currency": "EUR"}))
    assert outcome.error is None
    assert outcome.ok is not None
    assert len(outcome.ok) > 256
    report = json.loads(outcome.ok)
    assert report["currency"] == "EUR"
    assert report["count"] == 5
    assert report["total_cents"] == 360 + 950 + 410 + 420 + 300
    assert [line["name"] for line in report["lines"]] == ["pear", "kiwi", "fig", "apple", "plum"]
    assert (report["max_cents"], report["min_cents"]) == (950, 300)
    assert report["nonce"] == bytes((7 * i + 1) % 256 for i in range(16)).hex()
    assert report["at_ms"] == host.now
    assert host.calls[0] == ("secret", "api_key")
    method, url, headers, body = host.calls[1][1]
    assert (host.calls[1][0], method, url, body) == ("fetch", "GET", PRICES_URL, None)
    assert ("X-Api-Key", "key-123") in headers
    assert ("random-bytes", 16) in host.calls


def test_both_languages_give_the_same_bytes(example_runner: Callable[[str], Runner]) -> None:
    outputs = {
        language: example_runner(language).run(_prices_host(), json.dumps({"url": PRICES_URL})).ok
        for language in LANGUAGES
    }
    assert outputs["python"] is not None
    assert outputs["python"] == outputs["javascript"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_failures_are_the_run_error(language: str, example_runner: Callable[[str], Runner]) -> None:
    runner = example_runner(language)
    request = json.dumps({"url": PRICES_URL})
    assert runner.run(_prices_host(items=[]), request).error == "the price source returned no items"
    no_secret = FakeHost(responses=_prices_host().responses)
    assert runner.run(no_secret, request) == Outcome(error="no secret named api_key")
    refused = FakeHost(secrets={"api_key": "k"})
    assert runner.run(refused, request) == Outcome(error=f"fetch refused: {PRICES_URL} is not allowed")
    assert runner.run(_prices_host(), "{").error is not None
    assert (runner.run(_prices_host(), "{").error or "").startswith("the input is not JSON: ")


# ---- what run may return, and what the nsl helpers do -----------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_return_values_are_encoded(language: str, shapes: Callable[[str], Runner]) -> None:
    assert _run_shape(shapes, language, case="bytes", n=300).ok == bytes((i * 3) % 256 for i in range(300))
    assert _run_shape(shapes, language, case="text", text="héllo ").ok == "héllo héllo ".encode()
    echoed = _run_shape(shapes, language, case="json", xs=[1, 2, 39], s="ü").ok
    assert echoed == '{"echo":{"case":"json","xs":[1,2,39],"s":"ü"},"sum":42}'.encode()
    assert _run_shape(shapes, language, case="none").ok == b"null"
    unencodable = _run_shape(shapes, language, case="unencodable").error or ""
    assert unencodable.startswith("run returned a value that cannot be encoded as JSON")


@pytest.mark.parametrize("language", LANGUAGES)
def test_raising_fails_the_run_with_the_message(language: str, shapes: Callable[[str], Runner]) -> None:
    assert _run_shape(shapes, language, case="raise", message="bad input: 7") == Outcome(error="bad input: 7")
    assert _run_shape(shapes, language, case="nope") == Outcome(error="unknown case nope")
    too_many = _run_shape(shapes, language, case="random_too_many").error or ""
    assert "4096" in too_many


@pytest.mark.parametrize("language", LANGUAGES)
def test_fetch_sends_method_headers_body_and_merges_response_headers(
    language: str, shapes: Callable[[str], Runner]
) -> None:
    url = "https://api.example/echo"
    headers = [("Content-Type", "text/plain"), ("Set-Thing", "a"), ("set-thing", "b")]
    host = FakeHost(responses={url: (201, headers, "réponse".encode())})
    outcome = _run_shape(shapes, language, host, case="post", url=url)
    assert outcome.ok is not None
    assert json.loads(outcome.ok) == {
        "status": 201,
        "headers": {"content-type": "text/plain", "set-thing": "a, b"},
        "text": "réponse",
    }
    assert host.calls == [("fetch", ("POST", url, [("X-A", "1"), ("X-B", "2")], "héllo".encode()))]


def test_python_function_cannot_import_the_hosts_packages(shapes: Callable[[str], Runner]) -> None:
    assert _run_shape(shapes, "python", case="import", module="json").ok == b"present"
    for module in ("pydantic", "neo_service_layer", "wasmtime", "yaml"):
        assert _run_shape(shapes, "python", case="import", module=module).ok == b"missing", module


def test_javascript_globals(shapes: Callable[[str], Runner]) -> None:
    outcome = _run_shape(shapes, "javascript", case="globals")
    assert outcome.ok is not None
    keys = ["HostError", "fetch", "nowMs", "randomBytes", "secret"]
    assert json.loads(outcome.ok) == {"nsl": "object", "same": True, "keys": keys}


@pytest.mark.parametrize("language", LANGUAGES)
def test_components_reach_the_network_only_through_the_host(
    language: str, example_runner: Callable[[str], Runner]
) -> None:
    imports = example_runner(language).imports()
    assert "nsl:compute/host@0.1.0" in imports
    assert not [name for name in imports if name.startswith("wasi:http/")]


# ---- build failures --------------------------------------------------------------------------


def _assert_clean(message: str) -> None:
    """A message for the author: no host path, no temporary directory."""
    assert "nsl-build-" not in message
    assert "/tmp" not in message
    assert "/work" not in message
    assert str(Path.cwd()) not in message


async def _failure(language: str, source: str, settings: BuildSettings | None = None) -> str:
    with pytest.raises(BuildFailed) as caught:
        await build(language, source, settings)
    _assert_clean(caught.value.message)
    return caught.value.message


async def test_syntax_errors_name_the_line() -> None:
    require_tools("python")
    message = await _failure("python", "import nsl\n\ndef run(input):\n    return (1\n")
    assert message.startswith("function.py line 4: syntax error: '(' was never closed")
    require_tools("javascript")
    message = await _failure("javascript", "export function run(input) {\n  return 1 +;\n}\n")
    assert message.startswith("function.js line 2: syntax error: Unexpected token")


async def test_a_missing_run_is_reported_before_building() -> None:
    message = await _failure("python", "def walk(input):\n    return 1\n")
    assert message == "function.py defines no function run(input): add `def run(input): ...`"
    message = await _failure("javascript", "export function walk(input) { return 1; }\n")
    assert message.startswith("function.js exports no function run(input)")


async def test_source_limits_and_language() -> None:
    big = "def run(input):\n    return 1\n" + "# padding\n" * 30_000
    message = await _failure("python", big)
    assert "more than the limit of 262144 bytes" in message
    assert "limit of 100 bytes" in await _failure(
        "javascript", "x" * 101, BuildSettings(max_source_bytes=100)
    )
    assert await _failure("python", "  \n") == "the source is empty"
    assert (await _failure("ruby", "def run; end")).startswith("unknown language 'ruby'")


async def test_missing_tools_say_how_to_install(tmp_path: Path) -> None:
    source = "export function run(input) { return 1; }\n"
    message = await _failure("javascript", source, BuildSettings(tools_dir=tmp_path))
    assert "npm install --prefix .tools @bytecodealliance/componentize-js@0.23.0" in message
    message = await _failure("javascript", source, BuildSettings(node="no-such-node-binary"))
    assert "Node.js 20 or later" in message
    message = await _failure(
        "python", "def run(input): pass\n", BuildSettings(componentize_py="no-such-tool")
    )
    assert "pip install componentize-py==0.25.1" in message


async def test_a_timeout_stops_the_build_and_removes_its_directory(tmp_path: Path) -> None:
    require_tools("python")
    settings = BuildSettings(timeout=1.0, temp_root=tmp_path)
    message = await _failure("python", "def run(input):\n    return 1\n", settings)
    assert message == "the build took longer than 1 s and was stopped"
    assert list(tmp_path.iterdir()) == []


async def test_failures_found_while_building() -> None:
    """Errors only the build-time import finds: a run that is not a function, a failing top level."""
    require_tools("python")
    require_tools("javascript")
    assert (await _failure("python", "run = 5\n")).startswith("function.py defines no function run(input)")
    message = await _failure("python", "import nsl\nimport no_such_module\n\ndef run(input):\n    return 1\n")
    assert message == (
        "function.py line 2: importing the module failed: "
        "ModuleNotFoundError: No module named 'no_such_module'"
    )
    message = await _failure("javascript", "// run\nexport function walk(input) { return 1; }\n")
    assert message.startswith("function.js exports no function run(input)")
    message = await _failure(
        "javascript", "\nthrow new Error('boom');\nexport function run(input) { return 1; }\n"
    )
    assert message == "function.js line 2: the module's top level failed: Error: boom"


def test_example_sources_exist() -> None:
    assert all(path.is_file() for path in [*EXAMPLES.values(), *SHAPES.values()])


def test_tool_versions_agree_across_makefile_dockerfile_and_builder() -> None:
    """One pin for each build tool: what `make venv`, the image and the builder's messages name."""
    root = Path(__file__).resolve().parents[3]
    makefile = (root / "Makefile").read_text()
    dockerfile = (root / "deploy" / "docker" / "Dockerfile").read_text()
    assert f"COMPONENTIZE_JS := {build_javascript.COMPONENTIZE_JS_VERSION}\n" in makefile
    assert f"PREVIEW2_SHIM := {build_javascript.PREVIEW2_SHIM_VERSION}\n" in makefile
    for package in build_javascript.NPM_PACKAGES:
        assert package in dockerfile
    assert "NSL_COMPUTE_TOOLS_DIR=/opt/nsl-tools/node_modules" in dockerfile
    lock = (root / "requirements.lock").read_text().splitlines()
    assert f"componentize-py=={build_python.COMPONENTIZE_PY_VERSION}" in lock


def _fake_componentize_py(directory: Path, script: str) -> str:
    tool = directory / "fake-componentize-py"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    return str(tool)


async def test_an_unexpected_tool_failure_shows_its_bounded_output_without_paths(tmp_path: Path) -> None:
    noisy = (
        'echo "starting in $PWD"; head -c 1000000 /dev/zero | tr "\\0" x; echo\n'
        'echo "it broke in $PWD" >&2; exit 3\n'
    )
    settings = BuildSettings(componentize_py=_fake_componentize_py(tmp_path, noisy), temp_root=tmp_path / "b")
    (tmp_path / "b").mkdir()
    message = await _failure("python", "def run(input):\n    return 1\n", settings)
    assert message.startswith("the Python build failed:\n")
    assert message.endswith("it broke in src")
    assert len(message) < 2100
    assert list((tmp_path / "b").iterdir()) == []


async def test_builds_wait_for_a_slot(tmp_path: Path) -> None:
    tool = _fake_componentize_py(tmp_path, "sleep 0.5\nexit 1\n")
    source = "def run(input):\n    return 1\n"

    async def two_at_once(limit: int) -> float:
        settings = BuildSettings(componentize_py=tool, max_concurrent=limit)
        started = asyncio.get_running_loop().time()
        builds = (build("python", source, settings) for _ in range(2))
        results = await asyncio.gather(*builds, return_exceptions=True)
        assert all(isinstance(result, BuildFailed) for result in results)
        return asyncio.get_running_loop().time() - started

    assert await two_at_once(1) >= 1.0
    assert await two_at_once(2) < 1.0
