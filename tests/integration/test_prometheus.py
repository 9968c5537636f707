"""Prometheus, Alertmanager and Pushgateway checks against the real servers.

One testbed per module: the simulators plus the ``prometheus`` part (real Prometheus scraping
them with the runbooks' alert rules and a backfilled week of history, Alertmanager wired to
it, Pushgateway, node_exporter). Loki, used by the demo part, is the simulator's version of
Loki's HTTP API: Grafana Loki cannot be installed here. Faults are injected the way they
happen: a simulator stops answering its scrapes, its 5xx counter climbs, an alert is posted
to Alertmanager's API, Prometheus is asked to quit.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from fixtures.prometheus import judge_series, route_receivers, trend_of
from fixtures.verdict import CheckFailure
from plugins.schema.base import Bands
from testbed.demo import start_testbed
from testbed.parts.prometheus import RoutedAlertmanager, history_text
from testbed.services.network import free_port, http_request, port_accepts
from testbed.services.waiting import wait_until
from tests.support import ROOT, VigilRun, run_vigil

pytestmark = pytest.mark.integration

DEMO_PART = ROOT / "environments" / "parts" / "demo-observability.yaml"
AUREUS_5XX_RATIO = (
    'sum by (job) (rate(http_requests_total{job=~"bridge|aureus-os|openclaw",code=~"5.."}[5m]))'
    ' / sum by (job) (rate(http_requests_total{job=~"bridge|aureus-os|openclaw"}[5m])) * 100'
)
AEGIS_ALERTS = [
    "HighApiErrorRate",
    "HighApiLatency",
    "HighRateLimitHits",
    "HighAiInferenceLatency",
    "ExecutorActionFailures",
]


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """Simulators + real Prometheus stack; aegis-backend's heap history leaks."""
    running = start_testbed(
        {"start": ["sim", "prometheus"], "options": {"prometheus": {"leak": ["aegis-backend"]}}}
    )
    yield dict(running.variables)
    running.stop()


def _post(url: str, body: Any) -> str:
    response = http_request(
        url,
        method="POST",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        timeout=5.0,
    )
    assert response.status in (200, 204), f"POST {url}: {response.status} {response.text}"
    return response.text


def _query(stack: dict[str, str], promql: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": promql})
    response = http_request(f"{stack['PROMETHEUS_URL']}/api/v1/query?{query}", timeout=5.0)
    result: list[dict[str, Any]] = json.loads(response.body)["data"]["result"]
    return result


def _services(stack: dict[str, str]) -> dict[str, Any]:
    return {
        "prometheus": {"url": stack["PROMETHEUS_URL"], "health_path": "/-/healthy"},
        "alertmanager": {"url": stack["ALERTMANAGER_URL"], "health_path": "/-/healthy"},
        "pushgateway": {"url": stack["PUSHGATEWAY_URL"], "health_path": "/-/healthy"},
    }


def _prom(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "service": "prometheus", **fields}


def _outcomes(run: VigilRun, expected: dict[str, str]) -> None:
    seen = {name: run.result(name)["outcome"] for name in expected}
    assert seen == expected, run.output[-4000:]


def test_demo_part_passes_on_the_healthy_testbed(stack: dict[str, str], tmp_path: Path) -> None:
    run = run_vigil(
        tmp_path, {"name": "demo-observability", "extends": str(DEMO_PART)}, extra_env=stack
    )
    outcomes = run.outcomes()
    assert outcomes, run.output[-4000:]
    assert set(outcomes.values()) == {"passed"}, {
        name: run.result(name)["message"]
        for name, outcome in outcomes.items()
        if outcome != "passed"
    }
    assert run.ret == 0
    # Informational entries report what they saw; they carry it even when passing.
    trend = run.result("anomaly-detector-memory-usage-trend")["message"]
    assert "anomaly_detector_memory_usage_percent" in trend and "min " in trend
    assert "TICKET-123" in run.result("alertmanager-silences")["message"]


def _inject_faults(stack: dict[str, str]) -> None:
    control = stack["VIGIL_SIM_CONTROL_URL"]
    _post(f"{control}/faults/aureus-openclaw", {"kind": "down"})
    _post(
        f"{control}/faults/aureus-bridge",
        {
            "kind": "metric",
            "params": {
                "name": "http_requests_total",
                "labels": {"service": "bridge", "code": "500"},
                "rate": 60.0,
            },
        },
    )
    now = datetime.now(UTC)
    _post(
        f"{stack['ALERTMANAGER_URL']}/api/v2/alerts",
        [
            {
                "labels": {
                    "alertname": "AureusHighErrorRate",
                    "severity": "critical",
                    "job": "bridge",
                },
                "annotations": {"summary": "bridge error rate 7.5% (> 1%)"},
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=15)).isoformat(),
            }
        ],
    )
    # A batch job reports through the Pushgateway (its job label must survive the scrape).
    registry = CollectorRegistry()
    last_success = Gauge(
        "backup_last_success_timestamp_seconds", "Last successful backup.", registry=registry
    )
    last_success.set(now.timestamp() - 3600)
    push_to_gateway(stack["PUSHGATEWAY_URL"], job="postgres-backup", registry=registry, timeout=5)
    # Prometheus must have scraped the faults before the checks look.
    wait_until(lambda: _query(stack, 'up{job="openclaw"} == 0'), 15.0, 0.25, "openclaw down")
    bridge = AUREUS_5XX_RATIO.replace("* 100", "* 100 > 2")
    wait_until(
        lambda: [r for r in _query(stack, bridge) if r["metric"].get("job") == "bridge"],
        20.0,
        0.25,
        "bridge 5xx ratio above 2%",
    )
    wait_until(
        lambda: _query(stack, 'backup_last_success_timestamp_seconds{job="postgres-backup"}'),
        10.0,
        0.25,
        "pushed backup metric scraped",
    )


def test_faults_fail_or_error_with_the_reason(stack: dict[str, str], tmp_path: Path) -> None:
    _inject_faults(stack)
    below_1 = {"crit": 1, "direction": "below"}
    checks = {
        "targets-all": _prom("prometheus_targets"),
        "targets-aegis": _prom("prometheus_targets", jobs=["aegis-backend", "aegis-frontend"]),
        "targets-missing-job": _prom("prometheus_targets", jobs=["aegis-backend", "postgres"]),
        "services-up": _prom("promql_query", query="up", bands=below_1, severity="P0"),
        "error-ratio": _prom(
            "promql_query", query=AUREUS_5XX_RATIO, bands={"crit": 1, "unit": "%"}, severity="P1"
        ),
        "error-ratio-warn-only": _prom(
            "promql_query",
            query=AUREUS_5XX_RATIO,
            aggregate="max",
            bands={"warn": 1, "crit": 99, "unit": "%"},
            severity="high",
        ),
        "alerts-promql": _prom(
            "promql_query",
            query='ALERTS{alertstate="firing",severity="critical"}',
            aggregate="sum",
            if_empty="zero",
            bands={"crit": 0},
        ),
        "no-critical-alertmanager": {
            "kind": "active_alerts",
            "service": "alertmanager",
            "source": "alertmanager",
            "labels": {"severity": "critical"},
            "severity": "P1",
        },
        "no-critical-prometheus": _prom(
            "active_alerts", source="prometheus", labels={"severity": "critical"}
        ),
        "watchdog-reaches-alertmanager": {
            "kind": "active_alerts",
            "service": "alertmanager",
            "source": "alertmanager",
            "labels": {"alertname": "Watchdog"},
            "expect": "some",
        },
        "rules-aegis": _prom("prometheus_rules", groups=["aegis"], alerts=AEGIS_ALERTS),
        "rules-missing-group": _prom("prometheus_rules", groups=["aegis", "custom_alerts"]),
        "rules-for-everywhere": _prom(
            "prometheus_rules", require_for=True, for_exempt=["Watchdog"]
        ),
        "heap-leak": _prom(
            "promql_trend",
            query='nodejs_heap_size_used_bytes{job="aegis-backend"}',
            range="24h",
            bands={"warn": 10, "crit": 25, "unit": "%"},
            severity="medium",
        ),
        "memory-flat": _prom(
            "promql_trend",
            query="anomaly_detector_memory_usage_percent",
            range="24h",
            bands={"warn": 10, "crit": 25, "unit": "%"},
        ),
        "silence-for-maintenance": {
            "kind": "alertmanager_silences",
            "service": "alertmanager",
            "require": {"alertname": "HighLatency"},
        },
        "silence-missing": {
            "kind": "alertmanager_silences",
            "service": "alertmanager",
            "require": {"alertname": "DetectorDown", "severity": "critical"},
        },
        "p95-latency": _prom(
            "promql_query",
            query=(
                "histogram_quantile(0.95, sum by (job, le) (rate("
                'http_request_duration_seconds_bucket{job=~"bridge|aureus-os|openclaw"}[5m])))'
                " * 1000"
            ),
            bands={"crit": 100, "unit": " ms"},
        ),
        "backup-age-via-pushgateway": _prom(
            "promql_query",
            query='time() - backup_last_success_timestamp_seconds{job="postgres-backup"}',
            bands={"crit": 86400, "unit": " s"},
        ),
        "bad-promql": _prom("promql_query", query="sum(rate(up[5m])", bands={"crit": 1}),
        "missing-metric": _prom("promql_query", query="vigil_no_such_metric", bands={"crit": 1}),
    }
    run = run_vigil(tmp_path, {"name": "faults", "services": _services(stack), "checks": checks})
    _outcomes(
        run,
        {
            "targets-all": "failed",
            "targets-aegis": "passed",
            "targets-missing-job": "failed",
            "services-up": "failed",
            "error-ratio": "failed",
            "error-ratio-warn-only": "failed",
            "alerts-promql": "passed",
            "no-critical-alertmanager": "failed",
            "no-critical-prometheus": "passed",
            "watchdog-reaches-alertmanager": "passed",
            "rules-aegis": "passed",
            "rules-missing-group": "failed",
            "rules-for-everywhere": "failed",
            "heap-leak": "failed",
            "memory-flat": "passed",
            "silence-for-maintenance": "passed",
            "silence-missing": "failed",
            "p95-latency": "failed",
            "backup-age-via-pushgateway": "passed",
            "bad-promql": "error",
            "missing-metric": "error",
        },
    )
    targets = run.result("targets-all")["message"]
    assert "1 of 13 scrape targets down" in targets
    assert "job=openclaw" in targets and "connection refused" in targets
    assert "no scrape target for job postgres" in run.result("targets-missing-job")["message"]

    up = run.result("services-up")
    assert up["severity"] == "critical"
    assert up["message"].startswith('up: up{instance="')
    assert 'job="openclaw"} = 0 < crit 1' in up["message"]

    ratio = run.result("error-ratio")
    assert ratio["severity"] == "high" and ratio["band"] == "crit"
    assert '* 100: {job="bridge"} = ' in ratio["message"] and "% > crit 1%" in ratio["message"]
    assert "series breach" not in ratio["message"]  # only bridge breaches; openclaw is stale
    warn_only = run.result("error-ratio-warn-only")
    assert warn_only["band"] == "warn" and warn_only["severity"] == "medium"

    alert = run.result("no-critical-alertmanager")
    assert alert["severity"] == "high"
    assert '1 {severity="critical"} alert(s) active: AureusHighErrorRate' in alert["message"]
    assert "bridge error rate 7.5% (> 1%)" in alert["message"]

    latency = run.result("p95-latency")["message"]
    assert " ms > crit 100 ms; " in latency and "series breach, also: " in latency

    assert "custom_alerts not loaded" in run.result("rules-missing-group")["message"]
    no_for = run.result("rules-for-everywhere")["message"]
    assert "aegis-c/DetectorDown" in no_for and "aegis-c/DetectionScoreHigh" in no_for
    assert "Watchdog" not in no_for

    leak = run.result("heap-leak")
    assert leak["band"] == "crit" and leak["severity"] == "medium"
    assert 'nodejs_heap_size_used_bytes{instance="' in leak["message"]
    assert 'job="aegis-backend"}' in leak["message"] and "increase = " in leak["message"]
    assert "% > crit 25%" in leak["message"]

    missing_silence = run.result("silence-missing")["message"]
    assert 'no active silence covers {alertname="DetectorDown",severity="critical"}' in (
        missing_silence
    )
    assert "TICKET-123" in missing_silence
    assert "parse error" in run.result("bad-promql")["message"]
    assert "no data for vigil_no_such_metric" in run.result("missing-metric")["message"]


def test_prometheus_stopped_mid_session_is_an_error(stack: dict[str, str], tmp_path: Path) -> None:
    prometheus = stack["PROMETHEUS_URL"]
    _post(f"{prometheus}/-/quit", {})
    port = int(urllib.parse.urlsplit(prometheus).port or 0)
    wait_until(lambda: not port_accepts("127.0.0.1", port), 15.0, 0.1, "Prometheus stopped")
    checks = {
        "healthy": {"kind": "http_health", "service": "prometheus"},
        "query": _prom("promql_query", query="up", bands={"crit": 1, "direction": "below"}),
        "targets": _prom("prometheus_targets"),
        "rules": _prom("prometheus_rules", groups=["aegis"]),
        "alerts": _prom("active_alerts", source="prometheus"),
        "trend": _prom("promql_trend", query="up", informational=True),
    }
    run = run_vigil(tmp_path, {"name": "stopped", "services": _services(stack), "checks": checks})
    assert run.outcomes() == dict.fromkeys(checks, "error"), run.output[-3000:]
    for name in checks:
        message = run.result(name)["message"]
        assert message.startswith("cannot observe: ") and "connection refused" in message
    assert run.ret != 0


def test_least_squares_trend_of_a_steady_climb() -> None:
    samples = [(hour * 3600.0, 50.0 + 2.0 * hour) for hour in range(25)]
    trend = trend_of({"job": "x"}, samples)
    assert trend.slope_per_hour == pytest.approx(2.0)
    assert trend.increase_percent == pytest.approx(96.0)  # 50 -> 98 over 24 h
    assert (trend.first, trend.last, trend.samples) == (50.0, 98.0, 25)


def test_judge_each_fails_on_the_worst_series_and_names_the_others() -> None:
    below_1 = Bands(crit=1, direction="below")
    judge_series("up", [('up{job="a"}', 1.0)], below_1)
    with pytest.raises(CheckFailure) as failure:
        judge_series("up", [("a", 1.0), ("b", 0.0), ("c", 0.5)], below_1)
    assert failure.value.message == "up: b = 0 < crit 1; 2 of 3 series breach, also: c = 0.5"


def test_history_of_a_leaking_job_climbs_to_the_live_value() -> None:
    now = 1_800_000_000.0
    text = history_text({"aegis-backend": ["127.0.0.1:1"]}, 2, ["aegis-backend"], now)
    heap = [line.split() for line in text.splitlines() if line.startswith("nodejs_heap")]
    day_ago = [float(value) for _, value, stamp in heap if float(stamp) <= now - 86400]
    assert float(heap[-1][1]) == pytest.approx(98e6, rel=0.05)
    assert day_ago[-1] == pytest.approx(98e6 * 0.55, rel=0.06)
    assert text.endswith("# EOF\n") and "# TYPE nodejs_heap_size_used_bytes gauge" in text


ROUTING_CHECK: dict[str, Any] = {
    "kind": "alertmanager_routing",
    "service": "alertmanager",
    "routes": [
        {"labels": {"severity": "critical"}, "integrations": ["pagerduty", "slack"]},
        {"labels": {"severity": "warning"}},
    ],
    "separate": True,
}


def test_flat_alert_routing_fails_and_names_the_receiver(tmp_path: Path) -> None:
    """A real Alertmanager whose tree sends every alert to one webhook-less receiver."""
    (tmp_path / "run").mkdir()
    flat = RoutedAlertmanager(tmp_path / "am", free_port(), flat=True).start()
    try:
        services = {"alertmanager": {"url": flat.url}}
        checks = {"routing": ROUTING_CHECK}
        run = run_vigil(tmp_path / "run", {"name": "flat", "services": services, "checks": checks})
    finally:
        flat.stop()
    routing = run.result("routing")
    assert (routing["outcome"], routing["severity"]) == ("failed", "high"), routing
    assert (
        "{severity=critical} reaches default (no integration), expected pagerduty/slack"
        in (routing["message"])
    )
    assert (
        "{severity=warning} and {severity=critical} share receiver default" in (routing["message"])
    )


def test_route_walk_follows_first_match_and_continue() -> None:
    tree = {
        "receiver": "default",
        "routes": [
            {"matchers": ['severity=~"crit.*"'], "receiver": "pager", "continue": True},
            {"match": {"severity": "critical"}, "receiver": "slack"},
            {"match_re": {"team": "db|storage"}, "receiver": "dba"},
        ],
    }
    assert route_receivers(tree, {"severity": "critical"}, "") == ["pager", "slack"]
    assert route_receivers(tree, {"severity": "warning", "team": "db"}, "") == ["dba"]
    assert route_receivers(tree, {"severity": "info"}, "") == ["default"]
