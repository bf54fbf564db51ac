"""The Kubernetes overlays render, validate against the API's schemas offline, and follow our rules."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import K8S, OVERLAYS
from tests.deploy.kustomize import containers, pod_spec

Obj = dict[str, Any]
Rendered = dict[str, list[Obj]]

#: oldest supported Kubernetes (the preStop sleep action is on by default from 1.30) and the newest
#: schemas kubernetes-validate ships
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
IMAGE = re.compile(r"^ghcr\.io/neo-service-layer/nsl:\d+\.\d+\.\d+$")
LONG_RUNNING = ("Deployment", "DaemonSet", "StatefulSet")

# Custom resources are not in kubernetes-validate's schemas: these are the parts of their CRDs
# (cert-manager v1, autoscaler v1) that our objects use, closed with additionalProperties: false.
_QUANTITY = {"type": ["string", "integer"]}
CRD_SCHEMAS: dict[tuple[str, str], Obj] = {
    ("cert-manager.io/v1", "ClusterIssuer"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "cert-manager.io/v1"},
            "kind": {"const": "ClusterIssuer"},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "not": {"required": ["namespace"]},
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["acme"],
                "properties": {
                    "acme": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["server", "email", "privateKeySecretRef", "solvers"],
                        "properties": {
                            "server": {"type": "string", "pattern": "^https://acme(-staging)?-v02\\."},
                            "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                            "privateKeySecretRef": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}},
                            },
                            "solvers": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "http01": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "properties": {
                                                "ingress": {
                                                    "type": "object",
                                                    "additionalProperties": False,
                                                    "properties": {"ingressClassName": {"type": "string"}},
                                                }
                                            },
                                        }
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    },
    ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["targetRef", "updatePolicy"],
                "properties": {
                    "targetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["apiVersion", "kind", "name"],
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                        },
                    },
                    "updatePolicy": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"updateMode": {"enum": ["Off", "Initial", "Recreate", "Auto"]}},
                    },
                    "resourcePolicy": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "containerPolicies": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["containerName"],
                                    "properties": {
                                        "containerName": {"type": "string"},
                                        "minAllowed": {
                                            "type": "object",
                                            "additionalProperties": _QUANTITY,
                                        },
                                        "maxAllowed": {
                                            "type": "object",
                                            "additionalProperties": _QUANTITY,
                                        },
                                    },
                                },
                            }
                        },
                    },
                },
            }
        },
    },
}


def _all(rendered: Rendered) -> list[tuple[str, Obj]]:
    return [(overlay, obj) for overlay in OVERLAYS for obj in rendered[overlay]]


def _find(objects: list[Obj], kind: str, name: str) -> Obj:
    (match,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def test_overlays_render_the_expected_objects(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        kinds = sorted({(o["kind"], o["metadata"]["name"]) for o in rendered[overlay]})
        assert ("DaemonSet", "nsl-enclave") in kinds
        assert ("Deployment", "nsl-api") in kinds
        assert ("Deployment", "nsl-worker") in kinds
        assert ("Job", "nsl-migrate") in kinds
        assert ("CronJob", "nsl-backup") in kinds
        assert ("CronJob", "nsl-backup-verify") in kinds
        assert len(kinds) == len(rendered[overlay]), "no object may be defined twice"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(rendered: Rendered, version: str) -> None:
    custom = 0
    for _overlay, obj in _all(rendered):
        schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is not None:
            jsonschema.validate(obj, schema)
            custom += 1
            continue
        kubernetes_validate.validate(obj, version, strict=True)
    assert custom == 8  # 2 ClusterIssuers and 2 VPAs per overlay


def test_strict_validation_catches_a_misspelt_field(rendered: Rendered) -> None:
    deployment = copy.deepcopy(_find(rendered["production"], "Deployment", "nsl-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_every_custom_resource_kind_has_a_schema(rendered: Rendered) -> None:
    builtin_groups = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
    for _overlay, obj in _all(rendered):
        if obj["apiVersion"] not in builtin_groups:
            assert (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS


def test_long_running_containers_have_probes_limits_and_a_locked_down_security_context(
    rendered: Rendered,
) -> None:
    checked = 0
    for overlay, obj in _all(rendered):
        if obj["kind"] not in (*LONG_RUNNING, "Job", "CronJob"):
            continue
        for container in containers(obj):
            where = f"{overlay} {obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            if obj["kind"] in LONG_RUNNING:
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    assert probe in container, f"{where}: no {probe}"
            limits = container["resources"]["limits"]
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits), where
            assert {"cpu", "memory"} <= set(requests), where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] == 10001, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in security["capabilities"], where
            assert not security.get("privileged", False), where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: /tmp must be an emptyDir (read-only root)"
            checked += 1
    assert checked == 2 * 6


def test_pods_meet_the_restricted_pod_security_standard(rendered: Rendered) -> None:
    allowed_volumes = {"configMap", "emptyDir", "persistentVolumeClaim", "projected", "secret"}
    for overlay, obj in _all(rendered):
        spec = pod_spec(obj)
        if spec is None:
            continue
        where = f"{overlay} {obj['kind']}/{obj['metadata']['name']}"
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, where
        assert pod_security["runAsUser"] == 10001, where
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(field, False), where
        assert spec["automountServiceAccountToken"] is False, where
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= allowed_volumes, f"{where}: volume {volume['name']} is {kinds}"
        for container in containers(obj):
            assert "hostPort" not in str(container.get("ports", [])), where


def test_namespace_enforces_the_restricted_standard(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        namespace = _find(rendered[overlay], "Namespace", "nsl")
        labels = namespace["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        for obj in rendered[overlay]:
            if obj["kind"] not in ("Namespace", "PersistentVolume", "ClusterIssuer"):
                assert obj["metadata"]["namespace"] == "nsl", obj["metadata"]["name"]


def test_images_are_pinned_by_version_and_never_latest(rendered: Rendered) -> None:
    for overlay, obj in _all(rendered):
        for container in containers(obj):
            assert IMAGE.match(container["image"]), f"{overlay}: {container['image']}"
    for path in K8S.rglob("*.yaml"):
        assert ":latest" not in path.read_text(), path


def test_rolling_updates_keep_capacity(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        for name in ("nsl-api", "nsl-worker"):
            strategy = _find(rendered[overlay], "Deployment", name)["spec"]["strategy"]
            assert strategy == {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1},
            }
        for name in ("nsl-api", "nsl-worker"):
            budget = _find(rendered[overlay], "PodDisruptionBudget", name)["spec"]
            assert budget["maxUnavailable"] == 1


def test_api_probes_use_the_health_endpoints(rendered: Rendered) -> None:
    api = containers(_find(rendered["production"], "Deployment", "nsl-api"))[0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert api["args"] == ["serve", "--no-migrate"]


def test_enclave_is_a_daemonset_on_sgx_nodes_without_privileges(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        enclave = _find(rendered[overlay], "DaemonSet", "nsl-enclave")
        spec = enclave["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"intel.feature.node.kubernetes.io/sgx": "true"}
        assert {"key": "sgx.intel.com/epc", "operator": "Exists", "effect": "NoSchedule"} in spec[
            "tolerations"
        ]
        (container,) = spec["containers"]
        limits = container["resources"]["limits"]
        assert "sgx.intel.com/epc" in limits
        assert limits["sgx.intel.com/enclave"] == 1
        assert container["livenessProbe"]["exec"]["command"][:2] == ["nsl-probe", "socket"]
        assert "ports" not in container, "the enclave listens on its Unix socket only"


def test_hpa_and_vpa_follow_the_sizing_policy(rendered: Rendered) -> None:
    production = rendered["production"]
    hpa = _find(production, "HorizontalPodAutoscaler", "nsl-api")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 50)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    up, down = hpa["behavior"]["scaleUp"], hpa["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 120
    assert {(p["type"], p["value"]) for p in up["policies"]} == {("Percent", 25), ("Pods", 5)}
    assert up["selectPolicy"] == "Min"
    assert down["stabilizationWindowSeconds"] == 600
    assert {(p["type"], p["value"]) for p in down["policies"]} == {("Percent", 10), ("Pods", 1)}
    assert down["selectPolicy"] == "Max"
    staging_hpa = _find(rendered["staging"], "HorizontalPodAutoscaler", "nsl-api")["spec"]
    assert (staging_hpa["minReplicas"], staging_hpa["maxReplicas"]) == (2, 6)
    for name in ("nsl-api", "nsl-worker"):
        assert _find(production, "VerticalPodAutoscaler", name)["spec"]["updatePolicy"]["updateMode"] == "Off"


def test_ingress_has_tls_rate_limits_and_publishes_no_metrics(rendered: Rendered) -> None:
    hosts = {"staging": "api.staging.nsl.example.org", "production": "api.nsl.example.org"}
    issuers = {"staging": "letsencrypt-staging", "production": "letsencrypt-production"}
    for overlay in OVERLAYS:
        ingress = _find(rendered[overlay], "Ingress", "nsl-api")
        annotations = ingress["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == issuers[overlay]
        assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "100"
        assert int(annotations["nginx.ingress.kubernetes.io/limit-connections"]) > 0
        assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
        assert ingress["spec"]["tls"] == [{"hosts": [hosts[overlay]], "secretName": "nsl-api-tls"}]
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == hosts[overlay]
        paths = {p["path"] for p in rule["http"]["paths"]}
        assert "/api/" in paths
        assert not any(p in ("/", "/metrics") or p.startswith("/metrics") for p in paths)
        issuer_names = {o["metadata"]["name"] for o in rendered[overlay] if o["kind"] == "ClusterIssuer"}
        assert issuers[overlay] in issuer_names


def test_network_policies_deny_by_default_and_allow_only_named_paths(rendered: Rendered) -> None:
    policies = {
        o["metadata"]["name"]: o["spec"] for o in rendered["production"] if o["kind"] == "NetworkPolicy"
    }
    deny = policies["default-deny-all"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, spec in policies.items():
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                assert "ipBlock" not in peer, f"{name}: no pod may reach arbitrary addresses today"
            assert rule.get("ports"), f"{name}: egress must name its ports"
        for rule in spec.get("ingress", []):
            assert rule.get("from"), f"{name}: ingress must name its sources"
            assert rule.get("ports"), f"{name}: ingress must name its ports"
    api_sources = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for name in ("allow-ingress-to-api", "allow-prometheus-scrape")
        for rule in policies[name]["ingress"]
        for peer in rule["from"]
    ]
    assert sorted(api_sources) == ["ingress-nginx", "monitoring"]
    open_egress = {
        name for name, spec in policies.items() for rule in spec.get("egress", []) if "to" not in rule
    }
    assert open_egress == {"allow-backup-object-store"}, "only the backups leave the cluster"
    backup_egress = policies["allow-backup-object-store"]
    assert backup_egress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "backup"
    assert backup_egress["egress"] == [{"ports": [{"protocol": "TCP", "port": 443}]}]


def test_prometheus_may_scrape_the_worker_metrics_port_and_nothing_else(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        worker = containers(_find(objects, "Deployment", "nsl-worker"))[0]
        assert worker["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
        env = {e["name"]: e["value"] for e in worker["env"]}
        assert env == {"NSL_WORKER_METRICS_HOST": "0.0.0.0", "NSL_WORKER_METRICS_PORT": "9102"}
        policy = _find(objects, "NetworkPolicy", "allow-prometheus-scrape-worker")["spec"]
        assert policy["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "nsl",
            "app.kubernetes.io/component": "worker",
        }
        (rule,) = policy["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 9102}]
        (peer,) = rule["from"]
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
        assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
        for pod in ("api", "worker"):
            template = _find(objects, "Deployment", f"nsl-{pod}")["spec"]["template"]
            # the scrape configuration derives `environment` from this label (nsl-<overlay>)
            assert template["metadata"]["labels"]["app.kubernetes.io/instance"] == f"nsl-{overlay}"


def test_backup_cronjobs_create_daily_and_verify_weekly(rendered: Rendered) -> None:
    from neo_service_layer.services.backup.adapters.settings import BackupSettings

    for overlay in OVERLAYS:
        objects = rendered[overlay]
        schedules = {}
        for name in ("nsl-backup", "nsl-backup-verify"):
            cronjob = _find(objects, "CronJob", name)
            spec = cronjob["spec"]
            assert spec["concurrencyPolicy"] == "Forbid"
            assert spec["timeZone"] == "Etc/UTC"
            job = spec["jobTemplate"]["spec"]
            assert job["template"]["spec"]["restartPolicy"] == "Never"
            assert job["template"]["spec"]["serviceAccountName"] == "nsl-backup"
            assert job["activeDeadlineSeconds"] <= 4 * 3600
            labels = job["template"]["metadata"]["labels"]
            assert labels["app.kubernetes.io/component"] == "backup"
            assert labels["app.kubernetes.io/instance"] == f"nsl-{overlay}"
            (container,) = containers(cronjob)
            schedules[name] = (spec["schedule"], container["args"])
            sources = {ref["configMapRef"]["name"] for ref in container["envFrom"]}
            assert sources == {"nsl-config", "nsl-backup-config"}
            for variable in container["env"]:
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["name"] == "nsl-backup-secrets", variable["name"]
            (secrets,) = [v for v in job["template"]["spec"]["volumes"] if v["name"] == "secrets"]
            files = {
                item["path"]
                for source in secrets["projected"]["sources"]
                for item in source["secret"]["items"]
                if source["secret"]["name"] == "nsl-backup-secrets"
            }
            assert files == {"nsl_database_url", "nsl_backup_key"}
        day, month, weekday = schedules["nsl-backup"][0].split()[2:]
        assert (day, month, weekday) == ("*", "*", "*"), "daily"
        assert schedules["nsl-backup"][1] == ["backup", "create", "--prune"]
        assert schedules["nsl-backup-verify"][0].split()[2:] == ["*", "*", "0"], "weekly"
        assert schedules["nsl-backup-verify"][1] == ["backup", "verify", "latest"]
        config = _find(objects, "ConfigMap", "nsl-backup-config")["data"]
        known = {f"NSL_BACKUP_{name.upper()}" for name in BackupSettings.model_fields}
        assert set(config) <= known, set(config) - known
        assert not {"NSL_BACKUP_KEY", "NSL_BACKUP_KEY_FILE"} & set(config)
        assert config["NSL_BACKUP_TARGET"] == "s3"
        worker_env = _find(objects, "ConfigMap", "nsl-config")["data"]
        assert worker_env.get("NSL_BACKUP_SCHEDULE_ENABLED", "false") == "false", "the CronJobs do it"


def test_service_accounts_mount_no_token_and_nothing_is_granted(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        accounts = [o for o in rendered[overlay] if o["kind"] == "ServiceAccount"]
        assert {a["metadata"]["name"] for a in accounts} == {
            "nsl-api",
            "nsl-worker",
            "nsl-enclave",
            "nsl-migrate",
            "nsl-backup",
        }
        assert all(a["automountServiceAccountToken"] is False for a in accounts)
        kinds = {o["kind"] for o in rendered[overlay]}
        assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def test_secrets_are_referenced_never_defined(rendered: Rendered) -> None:
    for overlay, obj in _all(rendered):
        assert obj["kind"] != "Secret", f"{overlay}: secrets are created outside the manifests"
    referenced = set()
    for _overlay, obj in _all(rendered):
        spec = pod_spec(obj)
        for volume in (spec or {}).get("volumes", []):
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
            for source in volume.get("projected", {}).get("sources", []):
                referenced.add(source["secret"]["name"])
        for container in containers(obj):
            for variable in container.get("env", []):
                assert "value" in variable or "secretKeyRef" in variable["valueFrom"], variable
                if "valueFrom" in variable:
                    referenced.add(variable["valueFrom"]["secretKeyRef"]["name"])
    assert referenced == {"nsl-secrets", "nsl-migrate-secrets", "nsl-backup-secrets"}


def test_configmap_holds_only_known_non_secret_settings(rendered: Rendered) -> None:
    from neo_service_layer.kernel.config import Settings

    known = {f"NSL_{name.upper()}" for name in Settings.model_fields} | {"NSL_SECRETS_DIR"}
    secret_settings = {"NSL_DATABASE_URL", "NSL_REDIS_URL", "NSL_ENCLAVE_TOKEN", "NSL_ENCLAVE_CLIENTS"}
    for overlay in OVERLAYS:
        data = _find(rendered[overlay], "ConfigMap", "nsl-config")["data"]
        assert set(data) <= known, set(data) - known
        assert not set(data) & secret_settings
    assert (
        _find(rendered["production"], "ConfigMap", "nsl-config")["data"]["NSL_TEE_PLATFORM"] == "gramine-sgx"
    )
    staging = _find(rendered["staging"], "ConfigMap", "nsl-config")["data"]
    assert (staging["NSL_TEE_PLATFORM"], staging["NSL_TEE_ALLOW_SIMULATION"]) == ("simulation", "true")


SECRET_LOOKING = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|://[^\s:/@]+:[^\s@]+@"  # credentials in a URL
    # `name: value` or `name = value`; psql's `:'variable'` interpolation is not a value
    r"|\b(password|passwd|secret|token|api[_-]?key)\b\s*(=|:(?!'))\s*['\"]?[A-Za-z0-9+/_\-]{8,}"
    r"|\b[A-Fa-f0-9]{40,}\b"  # long hex strings (keys, tokens)
    r"|\beyJ[A-Za-z0-9_-]{10,}\.)",  # JWTs
    re.I,
)


@pytest.mark.parametrize(
    "text",
    [
        "password: hunter2hunter2",
        "NSL_DATABASE_URL: postgresql://nsl_app:s3cr3t@postgres/nsl",
        "token = 'abcdefghijklmnop'",
        "key: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "-----BEGIN EC PRIVATE KEY-----",
        "password: 'hunter2hunter2'",
    ],
)
def test_the_secret_scanner_finds_secrets(text: str) -> None:
    assert SECRET_LOOKING.search(text)


def test_the_secret_scanner_ignores_references() -> None:
    for text in ("CREATE ROLE r PASSWORD :'app_password'", "secretName: nsl-secrets", "password_file: /x"):
        assert not SECRET_LOOKING.search(text), text


def test_no_manifest_contains_a_secret_value() -> None:
    for path in sorted(K8S.rglob("*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not SECRET_LOOKING.search(line), f"{path}:{number}: {line.strip()}"


def test_every_yaml_file_is_used_by_a_kustomization() -> None:
    used = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        used.add(kustomization)
        for entry in spec.get("resources", []):
            target = (kustomization.parent / entry).resolve()
            if target.is_file():
                used.add(target)
        for patch in spec.get("patches", []):
            used.add((kustomization.parent / patch["path"]).resolve())
    assert set(K8S.rglob("*.yaml")) == used


def _enclave_secret_files(obj: Obj) -> dict[str, str]:
    """path -> key of what each pod mounts from `nsl-secrets` (the enclave tokens and clients only)."""
    mounted: dict[str, str] = {}
    for volume in pod_spec(obj)["volumes"]:
        sources = [volume["secret"]] if "secret" in volume else []
        sources += [s["secret"] for s in volume.get("projected", {}).get("sources", [])]
        for source in sources:
            if source.get("secretName", source.get("name")) != "nsl-secrets":
                continue
            assert "items" in source, "nsl-secrets is mounted by item, never whole"
            for item in source["items"]:
                if item["key"].startswith("nsl_enclave_"):
                    mounted[item["path"]] = item["key"]
    return mounted


def test_each_process_mounts_only_its_own_enclave_token(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        assert _enclave_secret_files(_find(objects, "DaemonSet", "nsl-enclave")) == {
            "nsl_enclave_clients": "nsl_enclave_clients"
        }
        assert _enclave_secret_files(_find(objects, "Deployment", "nsl-api")) == {
            "nsl_enclave_token": "nsl_enclave_token_api"
        }
        assert _enclave_secret_files(_find(objects, "Deployment", "nsl-worker")) == {
            "nsl_enclave_token": "nsl_enclave_token_worker"
        }
        assert _enclave_secret_files(_find(objects, "Job", "nsl-migrate")) == {
            "nsl_enclave_token": "nsl_enclave_token_cli"
        }
