"""The kustomize subset renders what real kustomize renders (checked with kubectl where installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import K8S, OVERLAYS
from tests.deploy.kustomize import MERGE_KEYS, UnsupportedKustomization, render, strategic_merge


def test_strategic_merge_merges_maps_and_keyed_lists_and_replaces_other_lists() -> None:
    base = {
        "replicas": 3,
        "template": {
            "containers": [
                {"name": "api", "image": "x:1", "args": ["serve"], "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "y:1"},
            ],
            "tolerations": [{"key": "a"}],
        },
        "gone": {"x": 1},
    }
    patch = {
        "replicas": 2,
        "gone": None,
        "template": {
            "containers": [{"name": "api", "args": ["worker"], "env": [{"name": "B", "value": "2"}]}],
            "tolerations": [{"key": "b"}],
        },
    }
    assert strategic_merge(base, patch) == {
        "replicas": 2,
        "template": {
            "containers": [
                {
                    "name": "api",
                    "image": "x:1",
                    "args": ["worker"],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                },
                {"name": "side", "image": "y:1"},
            ],
            "tolerations": [{"key": "b"}],
        },
    }
    assert base["replicas"] == 3, "the base is not modified"


def test_unsupported_kustomization_fields_are_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(UnsupportedKustomization, match="configMapGenerator"):
        render(tmp_path)


def _normalise(value: Any, field: str = "") -> Any:
    """Order keyed lists by merge key: kustomize and this renderer may order merged items differently."""
    if isinstance(value, dict):
        return {key: _normalise(item, key) for key, item in value.items()}
    if isinstance(value, list):
        items = [_normalise(item) for item in value]
        key = MERGE_KEYS.get(field)
        return sorted(items, key=lambda item: str(item.get(key))) if key else items
    return value


def _by_identity(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(o["kind"], o["metadata"]["name"]): _normalise(o) for o in objects}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kubectl_kustomize(overlay: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the renderer is checked against kustomize where it is")
    output = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    expected = _by_identity([doc for doc in yaml.safe_load_all(output) if doc])
    assert _by_identity(render(K8S / "overlays" / overlay)) == expected
