"""The optional in-cluster RabbitMQ (deploy/k8s/data/rabbitmq) renders, validates and stays locked down."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import DEPLOY, K8S, ROOT, require_tool
from tests.deploy.kustomize import containers, pod_spec, render
from tests.deploy.test_k8s_manifests import KUBERNETES_VERSIONS, SECRET_LOOKING

Obj = dict[str, Any]

BROKER = K8S / "data" / "rabbitmq"
POD_LABELS = {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "bus"}
#: the Ubuntu-based official image (uid 999); the Alpine one runs RabbitMQ as uid 100
IMAGE = re.compile(r"^rabbitmq:\d+\.\d+\.\d+(-management)?$")


@pytest.fixture(scope="module")
def broker() -> list[Obj]:
    return render(BROKER)


@pytest.fixture(scope="module")
def production() -> list[Obj]:
    return render(K8S / "overlays" / "production")


def _find(objects: list[Obj], kind: str, name: str) -> Obj:
    (match,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def _statefulset(objects: list[Obj]) -> Obj:
    return _find(objects, "StatefulSet", "rabbitmq")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_renders_the_broker_in_namespace_nsl_data(broker: list[Obj]) -> None:
    assert sorted((o["kind"], o["metadata"]["name"]) for o in broker) == [
        ("ConfigMap", "rabbitmq-config"),
        ("Namespace", "nsl-data"),
        ("NetworkPolicy", "rabbitmq"),
        ("PodDisruptionBudget", "rabbitmq"),
        ("Service", "rabbitmq"),
        ("Service", "rabbitmq-headless"),
        ("ServiceAccount", "rabbitmq"),
        ("StatefulSet", "rabbitmq"),
    ]
    for obj in broker:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "nsl-data", obj["metadata"]["name"]
    labels = _find(broker, "Namespace", "nsl-data")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(broker: list[Obj], version: str) -> None:
    for obj in broker:
        kubernetes_validate.validate(obj, version, strict=True)


def test_renderer_agrees_with_kubectl_kustomize(broker: list[Obj]) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the renderer is checked against kustomize where it is")
    output = subprocess.run(
        [kubectl, "kustomize", str(BROKER)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    expected = [doc for doc in yaml.safe_load_all(output) if doc]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(broker, key=key) == sorted(expected, key=key)


def test_the_pod_meets_the_restricted_pod_security_standard(broker: list[Obj]) -> None:
    statefulset = _statefulset(broker)
    spec = pod_spec(statefulset)
    assert spec is not None
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 999
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(field, False), field
    assert spec["automountServiceAccountToken"] is False
    account = _find(broker, "ServiceAccount", spec["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False, "service links put RABBITMQ_* variables into its environment"
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= {"configMap", "emptyDir", "secret"}, volume["name"]
    (container,) = containers(statefulset)
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 999
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert not security.get("privileged", False)
    assert "hostPort" not in str(container["ports"])
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    # every path RabbitMQ writes to is a volume: the root filesystem is read-only
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/var/lib/rabbitmq"] == "data"
    for path in ("/etc/rabbitmq/conf.d", "/var/log/rabbitmq", "/tmp"):
        (volume,) = [v for v in spec["volumes"] if v["name"] == mounts[path]]
        assert "emptyDir" in volume, path


def test_probes_ask_rabbitmq_itself(broker: list[Obj]) -> None:
    (container,) = containers(_statefulset(broker))
    commands = {
        probe: container[probe]["exec"]["command"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert commands == {
        "startupProbe": ["rabbitmq-diagnostics", "-q", "ping"],
        "livenessProbe": ["rabbitmq-diagnostics", "-q", "ping"],
        "readinessProbe": ["rabbitmq-diagnostics", "-q", "check_port_connectivity"],
    }
    for probe in commands:
        assert container[probe]["timeoutSeconds"] >= 10, "each check starts an Erlang VM"


def test_image_is_pinned_and_the_one_compose_runs(broker: list[Obj]) -> None:
    (container,) = containers(_statefulset(broker))
    assert IMAGE.match(container["image"]), container["image"]
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.production.yml").read_text())
    assert container["image"] == compose["services"]["rabbitmq"]["image"]


def test_data_lives_on_a_claim_and_the_services_reach_the_pod(broker: list[Obj]) -> None:
    statefulset = _statefulset(broker)
    assert statefulset["spec"]["replicas"] == 1
    template_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert _selects(statefulset["spec"]["selector"]["matchLabels"], template_labels)
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    headless = _find(broker, "Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    service = _find(broker, "Service", "rabbitmq")
    assert service["spec"]["type"] == "ClusterIP"
    (container,) = containers(statefulset)
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for svc in (service, headless):
        assert _selects(svc["spec"]["selector"], template_labels)
        assert svc["spec"]["selector"] == POD_LABELS
        (port,) = svc["spec"]["ports"]
        assert (port["port"], named_ports[port["targetPort"]]) == (5672, 5672)
    budget = _find(broker, "PodDisruptionBudget", "rabbitmq")["spec"]
    assert _selects(budget["selector"]["matchLabels"], template_labels)
    assert budget["maxUnavailable"] == 1, "one node: a drain may restart it, never wait for it forever"


def test_the_password_is_referenced_by_file_never_defined(broker: list[Obj]) -> None:
    assert not [o for o in broker if o["kind"] == "Secret"]
    statefulset = _statefulset(broker)
    spec = pod_spec(statefulset)
    assert spec is not None
    secrets = [v["secret"] for v in spec["volumes"] if "secret" in v]
    assert secrets == [
        {
            "secretName": "nsl-rabbitmq-secrets",
            "defaultMode": 0o440,
            "items": [{"key": "rabbitmq_password", "path": "rabbitmq_password"}],
        }
    ]
    (container,) = containers(statefulset)
    assert "env" not in container, "no password in the environment"
    assert "envFrom" not in container
    for path in sorted(BROKER.glob("*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not SECRET_LOOKING.search(line), f"{path}:{number}: {line.strip()}"


def test_only_the_worker_pods_of_nsl_reach_amqp(broker: list[Obj], production: list[Obj]) -> None:
    (policy,) = [o for o in broker if o["kind"] == "NetworkPolicy"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == POD_LABELS
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5672}], "no management, metrics or Erlang port"
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "nsl"}
    selector = peer["podSelector"]["matchLabels"]
    admitted = {
        obj["metadata"]["name"]
        for obj in production
        if pod_spec(obj) is not None
        and _selects(selector, _template_labels(obj))
        and obj["metadata"]["namespace"] == "nsl"
    }
    assert admitted == {"nsl-worker"}
    # the broker itself reaches DNS and nothing else
    (egress,) = spec["egress"]
    assert {p["port"] for p in egress["ports"]} == {53}
    (dns,) = egress["to"]
    assert dns["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    # and the namespace nsl lets its worker out to this port in nsl-data
    datastores = _find(production, "NetworkPolicy", "allow-datastores")["spec"]
    assert "worker" in datastores["podSelector"]["matchExpressions"][0]["values"]
    (out,) = datastores["egress"]
    assert {"protocol": "TCP", "port": 5672} in out["ports"]
    assert out["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nsl-data"}}}]


def _template_labels(obj: Obj) -> dict[str, str]:
    if obj["kind"] == "CronJob":
        labels: dict[str, str] = obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        return labels
    labels = obj["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_worker_bus_url_of_the_docs_names_this_service(broker: list[Obj], production: list[Obj]) -> None:
    service = _find(broker, "Service", "rabbitmq")
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}:5672"
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"amqp://nsl:${{rabbitmq_password}}@{host}/" in docs
    assert "kubectl apply -k deploy/k8s/data/rabbitmq" in docs
    worker = pod_spec(_find(production, "Deployment", "nsl-worker"))
    assert worker is not None
    (secrets,) = [v["secret"] for v in worker["volumes"] if v["name"] == "secrets"]
    assert {"key": "nsl_bus_url", "path": "nsl_bus_url"} in secrets["items"]


def test_settings_keep_logs_and_memory_inside_the_container(broker: list[Obj]) -> None:
    settings = _settings(_find(broker, "ConfigMap", "rabbitmq-config")["data"]["10-nsl.conf"])
    assert settings["listeners.tcp.default"] == "5672"
    assert (settings["log.console"], settings["log.file"]) == ("true", "false")
    (container,) = containers(_statefulset(broker))
    watermark = re.fullmatch(r"(\d+)MiB", settings["vm_memory_high_watermark.absolute"])
    limit = re.fullmatch(r"(\d+)Gi", container["resources"]["limits"]["memory"])
    assert watermark
    assert limit
    assert int(watermark[1]) < 0.7 * int(limit[1]) * 1024, "publishers are throttled well below the limit"


def _settings(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def _start_script(broker: list[Obj], root: Path) -> Path:
    """start.sh of the ConfigMap with its paths moved under ``root`` and a recording entrypoint."""
    data = _find(broker, "ConfigMap", "rabbitmq-config")["data"]
    (root / "conf.d").mkdir()
    (root / "nsl").mkdir()
    (root / "secrets").mkdir()
    (root / "bin").mkdir()
    (root / "nsl" / "10-nsl.conf").write_text(data["10-nsl.conf"])
    script = data["start.sh"]
    for path, moved in (
        ("/etc/rabbitmq/conf.d", "conf.d"),
        ("/etc/nsl/rabbitmq", "nsl"),
        ("/run/secrets/rabbitmq", "secrets"),
    ):
        assert path in script, path
        script = script.replace(path, str(root / moved))
    entrypoint = root / "bin" / "docker-entrypoint.sh"
    entrypoint.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {root}/args\nenv > {root}/env\n')
    entrypoint.chmod(0o755)
    (root / "start.sh").write_text(script)
    return root / "start.sh"


def _run(script: Path, root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{root / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=30)


def test_start_writes_the_only_user_from_the_secret_file(broker: list[Obj], tmp_path: Path) -> None:
    script = _start_script(broker, tmp_path)
    password = "0f" * 32
    (tmp_path / "secrets" / "rabbitmq_password").write_text(password + "\n")
    result = _run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().split() == ["rabbitmq-server"]
    assert password not in (tmp_path / "env").read_text()
    user = tmp_path / "conf.d" / "20-nsl-user.conf"
    assert _settings(user.read_text()) == {
        "default_user": "nsl",
        "default_pass": password,
        "default_vhost": "/",
    }
    assert stat.S_IMODE(user.stat().st_mode) == 0o600
    copied = (tmp_path / "conf.d" / "10-nsl.conf").read_text()
    assert copied == (tmp_path / "nsl" / "10-nsl.conf").read_text()


@pytest.mark.parametrize("password", ["", "p@ss:word/with#chars", "two words"])
def test_start_refuses_a_password_a_url_cannot_carry(
    broker: list[Obj], tmp_path: Path, password: str
) -> None:
    script = _start_script(broker, tmp_path)
    (tmp_path / "secrets" / "rabbitmq_password").write_text(password)
    result = _run(script, tmp_path)
    assert result.returncode == 1
    assert "URL-safe" in result.stderr
    assert not (tmp_path / "conf.d" / "20-nsl-user.conf").exists()
    assert not (tmp_path / "args").exists(), "RabbitMQ does not start"


def test_start_script_is_shellcheck_clean(broker: list[Obj], tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    script = tmp_path / "start.sh"
    script.write_text(_find(broker, "ConfigMap", "rabbitmq-config")["data"]["start.sh"])
    result = subprocess.run(
        [shellcheck, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout
