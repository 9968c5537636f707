"""plugins.severity and plugins.summary: severity from bands and overrides, escalation, roll-up."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import LocalHttp, VigilPytester, service_env

PAGE = """# TYPE queue_size gauge
queue_size{queue="logs"} 75
queue_size{queue="alerts"} 95
# TYPE errors_total counter
errors_total 7
# TYPE processed_total counter
processed_total 100
"""


def _queue(name: str, **overrides: object) -> dict[str, object]:
    return {
        "kind": "metric_threshold",
        "scrape": {"service": "app"},
        "metric": "queue_size",
        "labels": {"queue": name},
        "aggregate": "single",
        "bands": {"warn": 70, "crit": 90},
        "severity": "high",
        **overrides,
    }


def test_band_breached_sets_the_severity(vigil: VigilPytester, local_http: LocalHttp) -> None:
    local_http.route("/metrics", PAGE, content_type="text/plain")
    checks = {
        "logs-queue": _queue("logs"),
        "alerts-queue": _queue("alerts"),
        "logs-queue-custom-warn": _queue(
            "logs", bands={"warn": 70, "crit": 90, "warn_severity": "P0"}
        ),
    }
    result = vigil.run(service_env(local_http.url, checks))
    result.assert_outcomes(failed=3)
    results = vigil.results()
    assert results["logs-queue"]["severity"] == "medium"  # warn band: one step below high
    assert results["logs-queue"]["band"] == "warn"
    assert results["alerts-queue"]["severity"] == "high"  # crit band: the check's own
    assert results["alerts-queue"]["message"] == 'queue_size{queue="alerts"} = 95 > crit 90'
    assert results["alerts-queue"]["expected"] == "<= warn 70 / crit 90"
    assert results["logs-queue-custom-warn"]["severity"] == "critical"


def test_escalation_comes_from_the_policy_and_entry(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/metrics", PAGE, content_type="text/plain")
    env = service_env(
        local_http.url,
        {
            "default-rung": _queue("alerts"),
            "by-severity": _queue("alerts", severity="critical"),
            "own-rung": _queue("alerts", escalation=3, respond_within="5m"),
        },
    )
    env["policy"] = {**env["policy"], "by_severity": {"critical": 2}}
    vigil.run(env)
    results = vigil.results()
    assert (results["default-rung"]["escalate_to"], results["default-rung"]["respond_within"]) == (
        "On-call engineer",
        "immediate",
    )
    assert results["by-severity"]["escalation_level"] == 2
    assert results["by-severity"]["escalate_to"] == "Engineering team lead"
    assert (results["own-rung"]["escalate_to"], results["own-rung"]["respond_within"]) == (
        "Security team",
        "5m",
    )


def test_junit_carries_severity_escalation_and_runbook(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/metrics", PAGE, content_type="text/plain")
    check = _queue(
        "alerts", runbook="https://runbooks.example/queues", ref="anomaly_detector.queue-sizes"
    )
    vigil.run(service_env(local_http.url, {"alerts-queue": check}))
    tree = ET.parse(vigil.pytester.path / "reports" / "junit.xml")
    properties = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert properties["severity"] == "high"
    assert properties["escalate_to"] == "On-call engineer"
    assert properties["runbook"] == "https://runbooks.example/queues"
    assert properties["ref"] == "anomaly_detector.queue-sizes"
    assert properties["observed"] == "95"


def test_summary_is_worst_first_with_rolled_up_incident(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/metrics", PAGE, content_type="text/plain")
    local_http.route("/health", "", status=503)
    checks = {
        "queue": _queue("logs", component="detector"),
        "backend-health": {
            "kind": "http_health",
            "service": "app",
            "severity": "critical",
            "tags": ["availability"],
        },
    }
    result = vigil.run(service_env(local_http.url, checks))
    result.stdout.fnmatch_lines(
        [
            "*Vigil on-call summary: test*",
            "FAIL CRITICAL backend-health: GET http://127.0.0.1:*/health: HTTP 503, expected 200",
            "    escalate: L1 On-call engineer, immediately via pagerduty",
            'FAIL MEDIUM   queue: queue_size{queue="logs"} = 75 > warn 70',
            "*",
            "INCIDENT Level 1: Service Degradation (medium): escalate to L1 On-call engineer, immediately. "
            "2 failed.",
        ]
    )


def test_several_services_down_roll_up_to_level_3(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "", status=503)
    local_http.route("/ready", "", status=503)
    checks = {
        "detector-health": {
            "kind": "http_health",
            "service": "app",
            "tags": ["availability"],
            "component": "detector",
        },
        "console-health": {
            "kind": "http_health",
            "service": "app",
            "path": "/ready",
            "tags": ["availability"],
            "component": "console",
        },
    }
    vigil.run(service_env(local_http.url, checks))
    incident = vigil.summary()["incident"]
    assert incident["name"] == "Level 3: Critical Infrastructure"
    assert (incident["escalate_to"], incident["respond_within"]) == ("Management", "1h")
    assert incident["checks"] == ["console-health", "detector-health"]


def test_a_failed_security_check_is_a_level_2_security_incident(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/secure/ping", "pong", content_type="text/plain")  # auth not enforced
    env = service_env(
        local_http.url,
        {"ping-auth": {"kind": "http_auth", "service": "app", "path": "/secure/ping"}},
    )
    env["services"]["app"]["auth"] = {"type": "header", "header": "x-api-key", "secret": "k"}
    vigil.run(env)
    result = vigil.results()["ping-auth"]
    assert result["outcome"] == "failed"
    assert (
        "without credentials: HTTP 200, expected 401 or 403 (auth not enforced)"
        in result["message"]
    )
    assert vigil.summary()["incident"]["name"] == "Level 2: Security Incident"
