"""The subset of kustomize that deploy/k8s uses, so that the overlays render without a kustomize binary.

No registry package installs kustomize for this machine (PyPI's bindings need Python 3.14, npm has
none), so this renders what our kustomizations use: ``resources`` (files and directories),
``namespace``, ``labels`` (``includeSelectors: false``, optional ``includeTemplates``), ``images``
and ``patches`` given as strategic-merge files. Anything else in a kustomization is refused, so a new
feature cannot be silently ignored. Where ``kubectl`` is installed, a test checks that this renderer
and ``kubectl kustomize`` produce the same objects.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"})
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterIssuer",
        "StorageClass",
        "PriorityClass",
        "CustomResourceDefinition",
    }
)
# patchMergeKey of the list fields our patches touch (from the Kubernetes API's strategic-merge
# metadata); a list field not named here is replaced by the patch's list, as kustomize does.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
POD_TEMPLATE_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"})


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this renderer does not implement."""


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Obj]:
    """The objects ``kustomize build directory`` would print, in resource order."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: unsupported fields {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        objects.extend(render(target) if target.is_dir() else load_documents(target))
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: only file patches are supported: {patch}")
        for document in load_documents(directory / patch["path"]):
            _apply_patch(objects, document, directory / patch["path"])
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = spec["namespace"]
    for block in spec.get("labels", []):
        _apply_labels(objects, block, directory)
    for image in spec.get("images", []):
        _apply_image(objects, image)
    return objects


def _identity(obj: Obj) -> tuple[str, str, str]:
    return obj["apiVersion"].split("/")[0], obj["kind"], obj["metadata"]["name"]


def _apply_patch(objects: list[Obj], patch: Obj, source: Path) -> None:
    matches = [obj for obj in objects if _identity(obj) == _identity(patch)]
    if len(matches) != 1:
        raise UnsupportedKustomization(f"{source}: patch matches {len(matches)} objects")
    merged = strategic_merge(matches[0], patch)
    matches[0].clear()
    matches[0].update(merged)


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge of ``patch`` into ``base`` for maps, keyed lists and ``null`` deletions."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    key = MERGE_KEYS.get(field)
    if isinstance(base, list) and isinstance(patch, list) and key is not None:
        merged_list = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old.get(key) == item.get(key)), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _apply_labels(objects: list[Obj], block: Obj, source: Path) -> None:
    if block.get("includeSelectors", False) or set(block) - {"pairs", "includeSelectors", "includeTemplates"}:
        raise UnsupportedKustomization(f"{source}: only labels with includeSelectors: false are supported")
    pairs = {key: str(value) for key, value in block["pairs"].items()}
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(pairs)
        if block.get("includeTemplates") and obj["kind"] in POD_TEMPLATE_KINDS:
            obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if block.get("includeTemplates") and obj["kind"] == "StatefulSet":
            # kustomize labels the claims a StatefulSet creates too
            for claim in obj["spec"].get("volumeClaimTemplates", []):
                claim.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if block.get("includeTemplates") and obj["kind"] == "CronJob":
            # kustomize's template label paths of a CronJob: the Job template and its pod template
            job = obj["spec"]["jobTemplate"]
            job.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
            job["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload object, or ``None`` for other kinds."""
    if obj["kind"] in POD_TEMPLATE_KINDS:
        spec: Obj = obj["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "CronJob":
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "Pod":
        spec = obj["spec"]
        return spec
    return None


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _image_name(image: str) -> str:
    without_digest = image.split("@", 1)[0]
    slash = without_digest.rfind("/")
    colon = without_digest.rfind(":")
    return without_digest[:colon] if colon > slash else without_digest


def _apply_image(objects: list[Obj], rule: Obj) -> None:
    if set(rule) - {"name", "newName", "newTag"}:
        raise UnsupportedKustomization(f"unsupported image rule {rule}")
    for obj in objects:
        for container in containers(obj):
            if _image_name(container["image"]) != rule["name"]:
                continue
            name = rule.get("newName", rule["name"])
            tag = rule.get("newTag")
            container["image"] = f"{name}:{tag}" if tag else name
