"""Prometheus rules, Alertmanager routing and Grafana dashboards: valid, and only about metrics that exist."""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from tests.deploy.conftest import DEPLOY, ROOT, require_tool
from tests.deploy.metric_inventory import defined_metrics

MONITORING = DEPLOY / "monitoring"
RULES = sorted((MONITORING / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DATASOURCE_UID = "nsl-prometheus"
PROMTOOL_INSTALL = "apt-get install prometheus"

#: series that Prometheus writes itself for every target
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
#: kube-state-metrics (v2.5+) series of the backup CronJobs' status (rules/backups.yml): the only
#: series of another exporter that a rule may use
KUBE_STATE_METRICS_SERIES = frozenset(
    {
        "kube_cronjob_created",
        "kube_cronjob_status_active",
        "kube_cronjob_status_last_schedule_time",
        "kube_cronjob_status_last_successful_time",
    }
)
WORKER_METRICS_PORT = 9102

PROMQL_FUNCTIONS = frozenset(
    [
        "abs",
        "absent",
        "absent_over_time",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "cos",
        "cosh",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "deg",
        "delta",
        "deriv",
        "exp",
        "floor",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantile",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log10",
        "log2",
        "mad_over_time",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "pi",
        "predict_linear",
        "present_over_time",
        "quantile_over_time",
        "rad",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sin",
        "sinh",
        "sort",
        "sort_by_label",
        "sort_by_label_desc",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
        "tan",
        "tanh",
        "time",
        "timestamp",
        "vector",
        "year",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ]
)
PROMQL_KEYWORDS = frozenset(
    [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "and",
        "or",
        "unless",
        "atan2",
        "inf",
        "nan",
    ]
)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-zA-Z_$]+")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_NUMBER = re.compile(r"(?<![\w:])(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+)")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels and literals removed)."""
    text = _STRING.sub(" ", expr)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set(_IDENTIFIER.findall(text))
    return {name for name in names if name not in PROMQL_FUNCTIONS and name not in PROMQL_KEYWORDS}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('up{job="nsl-api"} == 0', {"up"}),
        ("sum by (job) (rate(nsl_http_requests_total[5m]))", {"nsl_http_requests_total"}),
        (
            'sum(rate(a_total{status=~"5.."}[5m])) / ignoring(status) group_left sum(rate(b_total[5m:1m]))',
            {"a_total", "b_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (job, le) (rate(x_seconds_bucket[5m]))) > 0.5",
            {"x_seconds_bucket"},
        ),
        ('label_replace(up, "dst", "$1", "instance", "(.*):.*") offset 1h', {"up"}),
        (
            "job:nsl_http_5xx_ratio:rate5m > 1e-2 and on (job) nsl_build_info",
            {
                "job:nsl_http_5xx_ratio:rate5m",
                "nsl_build_info",
            },
        ),
        ('count(count by (version) (nsl_build_info{role="api"})) > 1', {"nsl_build_info"}),
        ('sum(increase(h_bucket{job="$job"}[$__rate_interval])) by (le)', {"h_bucket"}),
        ('absent(up{job="nsl-api"}) or vector(0)', {"up"}),
        ("topk(5, max_over_time(g[1h])) unless bool g2", {"g", "g2"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def _rule_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in RULES]


def _rules() -> Iterator[dict[str, Any]]:
    for document in _rule_files():
        for group in document["groups"]:
            yield from group["rules"]


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query", {})
            text = query.get("query", "") if isinstance(query, dict) else str(query)
            match = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", text.strip())
            if match and match.group(1):
                yield f"{path.name}: variable {variable['name']}", match.group(1)


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
_EXPOSED = {"counter": "_total", "info": "_info"}


def _families(text: str) -> dict[str, str]:
    """Metric names of an exposition as documented (counters with _total, info with _info) -> type.

    The classic text format writes the ``_created`` samples of labelled histograms and counters as
    gauge families of their own; those are left out.
    """
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    return {
        name + _EXPOSED.get(kind, ""): kind
        for name, kind in families.items()
        if not (name.endswith("_created") and name.removesuffix("_created") in families)
    }


def _series_names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def _self_signed_certificate(directory: Path, days: int) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


#: a Neo network whose RPC does not answer: the chain metrics are registered, nothing is reached
_UNREACHABLE_NETWORK = {
    "NSL_NEO_NETWORK": "private",
    "NSL_NEO_RPC_URLS": '["http://127.0.0.1:9"]',
    "NSL_NEO_NETWORK_MAGIC": "860833102",
}


@pytest.fixture
async def api_exposition(make_settings: Callable[..., Settings], tmp_path: Path) -> str:
    """The API's /metrics after requests and a readiness check, with every optional part configured:
    a Neo network (chain metrics), an enclave (enclave mode) and a TLS certificate (its expiry)."""
    cert_file, key_file = _self_signed_certificate(tmp_path, days=90)
    settings = make_settings(
        neo_network="private",
        neo_rpc_urls=["http://127.0.0.1:9"],
        neo_network_magic=860833102,
        enclave_socket=tmp_path / "no-enclave.sock",
        enclave_token="0" * 64,
        tls_cert_file=cert_file,
        tls_key_file=key_file,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/health/live")).status_code == 200
            await client.get("/health/ready")
            response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def worker_exposition(tmp_path_factory: pytest.TempPathFactory) -> str:
    """/metrics of a real `nsl worker` (SQLite, a Neo network that does not answer, the backup schedule
    on with a local target), scraped on NSL_WORKER_METRICS_PORT as Prometheus does."""
    directory = tmp_path_factory.mktemp("worker")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NSL_", "OTEL_")) and key != "CI"
    }
    env.update(
        {
            "NSL_ENV": "test",
            "NSL_DATA_DIR": str(directory / "data"),
            "NSL_LOG_FORMAT": "json",
            "NSL_WORKER_METRICS_HOST": "127.0.0.1",
            "NSL_WORKER_METRICS_PORT": str(port),
            "NSL_ENCLAVE_SOCKET": str(directory / "no-enclave.sock"),
            "NSL_ENCLAVE_TOKEN": "0" * 64,
            "NSL_BACKUP_SCHEDULE_ENABLED": "true",
            "NSL_BACKUP_KEY": "11" * 32,
            "NSL_BACKUP_DIR": str(directory / "backups"),
            **_UNREACHABLE_NETWORK,
        }
    )
    command = [sys.executable, "-c", "from neo_service_layer.cli import app; app()", "worker"]
    log = directory / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, cwd=directory, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                if "nsl_backup_last_success_timestamp_seconds" in response.text:
                    return response.text
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker served no metrics on port {port}: {log.read_text()[-3000:]}")
            time.sleep(0.2)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def registered_names(api_exposition: str, worker_exposition: str) -> set[str]:
    """Every series name the API or the worker can expose."""
    return _series_names(api_exposition) | _series_names(worker_exposition)


def test_the_api_registers_the_documented_metrics(api_exposition: str) -> None:
    assert {
        "nsl_http_requests_total",
        "nsl_http_request_duration_seconds_bucket",
        "nsl_http_requests_in_flight",
        "nsl_component_up",
        "nsl_component_check_duration_seconds_count",
        "nsl_build_info",
        "nsl_keys_rotation_due",
        "nsl_enclave_simulation",
        "nsl_tls_certificate_expiry_timestamp_seconds",
        "nsl_chain_sender_gas_balance",
        "nsl_chain_sender_gas_low_threshold",
    } <= _series_names(api_exposition)


def test_the_api_exports_its_certificate_expiry_and_the_gas_threshold(api_exposition: str) -> None:
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(api_exposition)
        for sample in family.samples
    }
    in_days = (samples["nsl_tls_certificate_expiry_timestamp_seconds"] - time.time()) / 86400
    assert 89 < in_days <= 90
    assert samples["nsl_chain_sender_gas_low_threshold"] == Settings().neo_sender_low_balance_gas
    # the enclave did not answer, so its mode is unknown (NaN), not "hardware"
    assert math.isnan(samples["nsl_enclave_simulation"])


def test_the_worker_serves_its_registry(worker_exposition: str) -> None:
    names = _series_names(worker_exposition)
    assert 'role="worker"' in worker_exposition
    assert {
        "nsl_build_info",
        "nsl_chain_blocks_behind",
        "nsl_chain_requests_total",
        "nsl_chain_sender_gas_balance",
        "nsl_backup_last_success_timestamp_seconds",
        "nsl_backup_last_verify_success_timestamp_seconds",
        "nsl_backup_failures_total",
        "nsl_keys_rotation_due",
    } <= names
    assert not {n for n in names if n.startswith("nsl_http_")}, "the worker has no HTTP API"


def test_the_metrics_table_lists_exactly_what_the_code_defines(
    api_exposition: str, worker_exposition: str
) -> None:
    rows = re.findall(
        r"^\| `(nsl_\w+)` \|\s*(\w+)\s*\|([^|]*)\|", (ROOT / "docs" / "metrics.md").read_text(), re.M
    )
    documented = {name: (kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}
    assert len(documented) == len(rows), "a metric is listed twice"
    defined = defined_metrics()
    assert set(documented) == set(defined), (
        f"missing from docs/metrics.md: {sorted(set(defined) - set(documented))}; "
        f"not in the code: {sorted(set(documented) - set(defined))}"
    )
    for name, metric in defined.items():
        kind, labels = documented[name]
        assert kind == metric.kind, name
        if metric.kind != "info":
            assert labels == metric.labels, name
    exposed = _families(api_exposition) | _families(worker_exposition)
    assert set(exposed) <= set(defined), "a running process exposes a metric the scan missed"
    for name, kind in exposed.items():
        # the classic text format writes an info metric as a gauge
        assert kind == defined[name].kind or (kind, defined[name].kind) == ("gauge", "info"), name


def test_rules_and_dashboards_use_only_registered_metrics(registered_names: set[str]) -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    known = registered_names | recorded | PROMETHEUS_SERIES | KUBE_STATE_METRICS_SERIES
    uses: list[tuple[str, str]] = [(f"rule {r.get('alert') or r['record']}", r["expr"]) for r in _rules()]
    uses.extend(_dashboard_exprs())
    assert len(uses) > 20
    unknown = {
        (where, name) for where, expr in uses for name in promql_metric_names(expr) if name not in known
    }
    assert not unknown, f"metrics not registered by the code: {sorted(unknown)}"


def test_every_alert_has_a_routed_severity_and_explains_itself() -> None:
    alerts = [rule for rule in _rules() if "alert" in rule]
    assert len(alerts) >= 8
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, alert["alert"]
        assert alert["labels"]["area"], alert["alert"]
        assert {"summary", "description", "runbook"} <= set(alert["annotations"]), alert["alert"]
    assert len({alert["alert"] for alert in alerts}) == len(alerts)


def test_rules_are_one_file_per_area() -> None:
    for path, document in zip(RULES, _rule_files(), strict=True):
        areas = {
            rule["labels"]["area"]
            for group in document["groups"]
            for rule in group["rules"]
            if "alert" in rule
        }
        assert areas == {path.stem}, f"{path.name} holds alerts of {areas}"


def _promtool() -> str:
    return require_tool("promtool", PROMTOOL_INSTALL)


def _run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


def test_promtool_accepts_the_rules() -> None:
    result = _run(_promtool(), "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    tests = MONITORING / "prometheus" / "tests"
    result = _run(_promtool(), "test", "rules", *map(str, sorted(tests.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path) -> None:
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(MONITORING / "prometheus" / "rules" / "*.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = _run(_promtool(), "check", "config", str(local))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "nsl-api", "nsl-worker"}
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.production.yml").read_text())
    worker = compose["services"]["worker"]
    assert worker["environment"]["NSL_WORKER_METRICS_HOST"] == "0.0.0.0"
    assert int(worker["environment"]["NSL_WORKER_METRICS_PORT"]) == WORKER_METRICS_PORT
    assert "monitoring" in worker["networks"]
    assert "ports" not in worker, "the worker's metrics stay on the monitoring network"
    (discovery,) = jobs["nsl-worker"]["dns_sd_configs"]
    assert (discovery["names"], discovery["port"]) == (["worker"], WORKER_METRICS_PORT)
    for name in ("nsl-api", "nsl-worker"):
        assert {"target_label": "environment", "replacement": "production"} in jobs[name]["relabel_configs"]


def test_kubernetes_scrape_config_keeps_only_api_and_worker_pods() -> None:
    # Debian's promtool is built without Kubernetes discovery, so this one is checked by rule
    config = yaml.safe_load((MONITORING / "prometheus" / "scrape-kubernetes.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"nsl-api", "nsl-worker"}
    expected = {"nsl-api": ["nsl;api", "http"], "nsl-worker": ["nsl;worker", "metrics"]}
    for name, job in jobs.items():
        assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["nsl"]}}]
        keep = [r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"]
        assert keep == expected[name]
        assert {
            "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
            "regex": "nsl-(.+)",
            "target_label": "environment",
        } in job["relabel_configs"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_alerts_that_select_an_environment_get_it_from_a_target_label() -> None:
    # external labels are added after rule evaluation: a rule can only select a target label
    for name in ("prometheus.yml", "scrape-kubernetes.yml"):
        config = yaml.safe_load((MONITORING / "prometheus" / name).read_text())
        assert "environment" not in config["global"].get("external_labels", {}), name
    uses = [rule["expr"] for rule in _rules() if "environment=" in rule["expr"]]
    assert uses, 'NslEnclaveSimulationInProduction selects environment="production"'


def test_every_new_area_has_alerts_with_the_expected_severities() -> None:
    alerts = {rule["alert"]: rule["labels"]["severity"] for rule in _rules() if "alert" in rule}
    assert {
        "NslChainWatcherBehind": "critical",
        "NslChainFulfilmentFailureRatioHigh": "critical",
        "NslChainSenderGasLow": "warning",
        "NslEnclaveUnavailable": "critical",
        "NslEnclaveSimulationInProduction": "critical",
        "NslTlsCertificateExpiresSoon": "warning",
        "NslBackupTooOld": "critical",
        "NslBackupRestoreTestFailing": "warning",
        "NslBackupRestoreTestTooOld": "warning",
        "NslKeysRotationDue": "warning",
        "NslWorkerTargetDown": "warning",
    }.items() <= alerts.items()


def test_every_alert_has_a_promtool_unit_test() -> None:
    tests = "".join(path.read_text() for path in (MONITORING / "prometheus" / "tests").glob("*.yml"))
    tested = set(re.findall(r"alertname: (\w+)", tests))
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    untested = alerts - tested - {"NslApiTargetsMissing", "NslMixedVersions", "NslReadinessCheckSlow"}
    assert not untested, f"alerts without a promtool test: {sorted(untested)}"


def test_alertmanager_routes_by_severity() -> None:
    config = yaml.safe_load((MONITORING / "alertmanager" / "alertmanager.yml").read_text())
    routes = {route["matchers"][0]: route["receiver"] for route in config["route"]["routes"]}
    assert routes == {
        'severity="critical"': "pager",
        'severity="warning"': "chat",
        'severity="info"': "email",
    }
    text = (MONITORING / "alertmanager" / "alertmanager.yml").read_text()
    for inline in ("routing_key:", "api_url:", "smtp_auth_password:", "service_key:"):
        assert inline not in text, f"{inline} must be a *_file reference"
    amtool = require_tool("amtool", "apt-get install prometheus-alertmanager")
    result = _run(amtool, "check-config", "alertmanager.yml", cwd=MONITORING / "alertmanager")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_are_sane() -> None:
    assert {path.stem for path in DASHBOARDS} >= {
        "overview",
        "http",
        "components",
        "chain",
        "keys-enclave",
        "backups",
    }
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in uids, path.name
        uids.add(dashboard["uid"])
        assert dashboard["title"].startswith("NSL / "), path.name
        panels = list(_panels(dashboard))
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels:
            where = f"{path.name}: {panel.get('title')}"
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["expr"].strip(), where
                assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE_UID, where


def test_grafana_provisioning_points_at_the_dashboards_and_datasource() -> None:
    provisioning = MONITORING / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert [d["uid"] for d in datasources["datasources"]] == [DATASOURCE_UID]
    providers = yaml.safe_load((provisioning / "dashboards" / "nsl.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards/nsl"


@pytest.mark.parametrize(("mode", "value"), [("simulation", 1.0), ("hardware", 0.0)])
async def test_the_enclave_check_sets_the_simulation_gauge(mode: str, value: float) -> None:
    from typing import cast

    from prometheus_client import CollectorRegistry

    from neo_service_layer.kernel.enclave_client.health import EnclaveCheck
    from neo_service_layer.kernel.enclave_client.ports import Enclave, EnclaveStatus
    from neo_service_layer.kernel.observability.metrics import EnclaveMetrics

    class Reporting:
        async def status(self) -> EnclaveStatus:
            return EnclaveStatus(platform=mode, mode=mode, protocol_version=1, loaded_keys=0)

    registry = CollectorRegistry()
    check = EnclaveCheck(cast(Enclave, Reporting()), metrics=EnclaveMetrics(registry))
    unknown = registry.get_sample_value("nsl_enclave_simulation")
    assert unknown is not None
    assert math.isnan(unknown), "NaN before the first check"
    status = await check()
    assert status.ok
    assert status.info["mode"] == mode
    assert registry.get_sample_value("nsl_enclave_simulation") == value
