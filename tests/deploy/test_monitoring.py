"""Prometheus rules, Alertmanager routing and Grafana dashboards: valid, and only about metrics that exist."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from neo_service_layer.config import Settings
from neo_service_layer.entrypoints.http.app import create_app
from tests.deploy.conftest import DEPLOY, require_tool

MONITORING = DEPLOY / "monitoring"
RULES = sorted((MONITORING / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DATASOURCE_UID = "nsl-prometheus"
PROMTOOL_INSTALL = "apt-get install prometheus"

#: series that Prometheus writes itself for every target
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

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


@pytest.fixture
async def registered_names(make_settings: Callable[..., Settings]) -> set[str]:
    """Every series name the API's /metrics can expose, after requests and a readiness check."""
    app = create_app(make_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/health/live")).status_code == 200
            await client.get("/health/ready")
            response = await client.get("/metrics")
    assert response.status_code == 200
    names: set[str] = set()
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
        "stateset": ("",),
        "unknown": ("",),
    }
    for family in text_string_to_metric_families(response.text):
        names.update(family.name + suffix for suffix in suffixes[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def test_the_api_registers_the_documented_metrics(registered_names: set[str]) -> None:
    assert {
        "nsl_http_requests_total",
        "nsl_http_request_duration_seconds_bucket",
        "nsl_http_requests_in_flight",
        "nsl_component_up",
        "nsl_component_check_duration_seconds_count",
        "nsl_build_info",
    } <= registered_names


def test_rules_and_dashboards_use_only_registered_metrics(registered_names: set[str]) -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    known = registered_names | recorded | PROMETHEUS_SERIES
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
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"prometheus", "nsl-api"}


def test_kubernetes_scrape_config_keeps_only_api_pods() -> None:
    # Debian's promtool is built without Kubernetes discovery, so this one is checked by rule
    config = yaml.safe_load((MONITORING / "prometheus" / "scrape-kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["nsl"]}}]
    keep = [r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert keep == ["nsl;api", "http"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


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
    assert {path.stem for path in DASHBOARDS} >= {"overview", "http", "components"}
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
