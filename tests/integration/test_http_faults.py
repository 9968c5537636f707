"""HTTP and /metrics checks against the seed systems' simulators, healthy and faulted.

The simulators (testbed/sim) speak HTTP on loopback like the real services; each fault kind
must make the right check fail (or error) with the right severity, escalation and message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.sim import SimStack, start_stack
from tests.support import VigilRun, run_vigil

POLICY = {
    "escalation": [
        {"level": 1, "who": "On-call engineer", "within": "immediate", "channel": "pagerduty"},
        {"level": 2, "who": "Engineering team lead", "within": "15m"},
        {"level": 3, "who": "Security team", "within": "30m"},
    ],
    "rollup": [
        {
            "incident": "Level 3: Critical Infrastructure",
            "severity": "critical",
            "escalation": 2,
            "when": {"tags": ["availability"], "min_components": 2},
        },
        {
            "incident": "Level 2: Security Incident",
            "severity": "high",
            "escalation": 3,
            "when": {"tags": ["security"]},
        },
        {"incident": "Level 1: Service Degradation", "severity": "medium", "escalation": 1},
    ],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[SimStack]:
    with start_stack(api_key="k-test") as running:
        yield running


@pytest.fixture(autouse=True)
def healthy_again(stack: SimStack) -> Iterator[None]:
    yield
    stack.clear_faults()


def environment(stack: SimStack) -> dict[str, Any]:
    urls = stack.urls
    return {
        "name": "sim",
        "policy": POLICY,
        "services": {
            "detector": {
                "url": urls["aegis-c-detector"],
                "timeout": 1.5,
                "auth": {"type": "header", "header": "x-api-key", "secret": "k-test"},
            },
            "backend": {
                "url": urls["aegis-backend"],
                "health_path": "/api/v1/health",
                "timeout": 1.5,
                "auth": {"type": "bearer", "secret": "k-test"},
            },
            "anomaly": {"url": urls["anomaly-detector"], "timeout": 1.5},
        },
        "checks": {
            "detector-health": {
                "kind": "http_health",
                "service": "detector",
                "severity": "high",
                "tags": ["availability"],
                "component": "detector",
            },
            "detector-auth": {
                "kind": "http_auth",
                "service": "detector",
                "path": "/secure/ping",
                "escalation": 3,
            },
            "backend-health": {
                "kind": "http_health",
                "service": "backend",
                "severity": "critical",
                "tags": ["availability"],
                "component": "backend",
                "expect": {"json": {"info.database.status": "up", "info.redis.status": "up"}},
            },
            "policy-deny": {
                "kind": "http_health",
                "service": "backend",
                "path": "/api/v1/policy/evaluate",
                "method": "POST",
                "authenticated": True,
                "body": {"action": "restart", "resource": "deployments", "namespace": "production"},
                "expect": {"json": {"decision": "DENY", "executorCalled": False}},
            },
            "anomaly-queue": {
                "kind": "metric_threshold",
                "scrape": {"service": "anomaly"},
                "metric": "anomaly_detector_input_queue_size",
                "aggregate": "single",
                "bands": {"crit": 50000},
                "severity": "medium",
            },
            "anomaly-p95": {
                "kind": "metric_quantile",
                "scrape": {"service": "anomaly"},
                "family": "anomaly_detector_processing_duration_seconds",
                "quantile": 0.95,
                "scale": 1000,
                "bands": {"crit": 1000, "unit": " ms"},
            },
            "anomaly-processing": {
                "kind": "metric_progress",
                "scrape": {"service": "anomaly"},
                "metric": "anomaly_detector_logs_processed_total",
                "interval": 1.5,
                "severity": "critical",
            },
        },
    }


def run(tmp_path: Path, stack: SimStack) -> VigilRun:
    return run_vigil(tmp_path, environment(stack), "-p", "no:html")


def test_healthy_systems_pass(tmp_path: Path, stack: SimStack) -> None:
    result = run(tmp_path, stack)
    assert result.ret == 0, result.output[-3000:]
    assert set(result.outcomes().values()) == {"passed"}
    assert "All clear: 7 passed." in result.output


def test_down_unhealthy_and_stalled(tmp_path: Path, stack: SimStack) -> None:
    stack.set_fault("aegis-c-detector", "down")
    stack.set_fault("aegis-backend", "unhealthy", dependency="redis")
    stack.set_fault("anomaly-detector", "stalled")
    result = run(tmp_path, stack)
    assert result.ret == 1
    detector = result.result("detector-health")
    assert (detector["outcome"], detector["severity"]) == ("error", "high")
    assert detector["message"].endswith("/health: connection refused")
    backend = result.result("backend-health")
    assert (backend["outcome"], backend["severity"]) == ("failed", "critical")
    assert backend["message"].endswith("/api/v1/health: HTTP 503, expected 200")
    assert (backend["escalate_to"], backend["respond_within"]) == ("On-call engineer", "immediate")
    stalled = result.result("anomaly-processing")
    assert stalled["outcome"] == "failed"
    assert "anomaly_detector_logs_processed_total grew by 0 in 1.5s" in stalled["message"]
    assert result.summary["incident"]["name"] == "Level 3: Critical Infrastructure"
    assert result.summary["incident"]["escalate_to"] == "Engineering team lead"


def test_metric_over_its_band_and_slow_answers(tmp_path: Path, stack: SimStack) -> None:
    stack.set_fault(
        "anomaly-detector", "metric", name="anomaly_detector_input_queue_size", value=60000
    )
    stack.set_fault(
        "anomaly-detector",
        "metric",
        name="anomaly_detector_processing_duration_seconds",
        labels={"quantile": "0.95"},
        value=1.7,
    )
    stack.set_fault("aegis-backend", "slow", seconds=3)
    result = run(tmp_path, stack)
    queue = result.result("anomaly-queue")
    assert (queue["outcome"], queue["severity"]) == ("failed", "medium")
    assert queue["message"] == "anomaly_detector_input_queue_size = 60,000 > crit 50,000"
    latency = result.result("anomaly-p95")
    assert (
        latency["message"]
        == "P95 anomaly_detector_processing_duration_seconds = 1,700 ms > crit 1,000 ms"
    )
    slow = result.result("backend-health")
    assert slow["outcome"] == "error"
    assert slow["message"].endswith("/api/v1/health: timed out after 1.5s")
    assert result.summary["incident"]["name"] == "Level 1: Service Degradation"


def test_auth_not_enforced_is_a_security_incident(tmp_path: Path, stack: SimStack) -> None:
    stack.set_fault("aegis-c-detector", "auth_open")
    result = run(tmp_path, stack)
    auth = result.result("detector-auth")
    assert (auth["outcome"], auth["severity"], auth["escalate_to"]) == (
        "failed",
        "high",
        "Security team",
    )
    assert (
        "without credentials: HTTP 200, expected 401 or 403 (auth not enforced)" in auth["message"]
    )
    assert result.summary["incident"]["name"] == "Level 2: Security Incident"


def test_server_errors_fail_the_health_check(tmp_path: Path, stack: SimStack) -> None:
    stack.set_fault("aegis-c-detector", "error", status=502)
    result = run(tmp_path, stack)
    detector = result.result("detector-health")
    assert detector["outcome"] == "failed"
    assert detector["message"].endswith("/health: HTTP 502, expected 200")
    assert detector["observed"] == "502"
