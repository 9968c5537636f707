"""The seed-system simulators (testbed/sim): healthy answers, every fault on the wire, Loki.

These are simulations: plain HTTP servers on loopback that answer with the runbooks' endpoint,
field and metric names. The tests talk to them over real sockets with ``http.client``.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from testbed.sim import FAULT_KINDS, SERVICE_NAMES, FaultError, SimStack, start_stack
from testbed.sim.faults import Fault
from testbed.sim.loki.logql import LogQLError, LogQuery, RangeAggregation, VectorAggregation, parse
from testbed.sim.loki.service import Loki
from testbed.sim.service import SimContext
from testbed.sim.services.aureus import Component

API_KEY = "test-key"
TIMEOUT = 5.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def fetch(
    base: str,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = TIMEOUT,
) -> Reply:
    """One request on a fresh connection, redirects not followed."""
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = dict(headers or {})
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    try:
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, dict(response.headers), data, time.monotonic() - started)
    finally:
        connection.close()


def metric_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The value of one sample of a Prometheus text exposition (parsed, not grepped)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
        assert match is not None, f"bad exposition line {line!r}"
        if match.group(1) != name:
            continue
        found = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(key) == value for key, value in (labels or {}).items()):
            return float(match.group(4))
    raise AssertionError(f"no sample {name}{labels or ''} in exposition")


@pytest.fixture(scope="module")
def stack() -> Iterator[SimStack]:
    with start_stack(api_key=API_KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def healthy_again(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").clear_faults()


def url(stack: SimStack, service: str) -> str:
    return stack.urls[service]


# -- healthy answers ----------------------------------------------------------------------

BEARER_ADMIN = {"Authorization": f"Bearer {API_KEY}"}
HEALTHY = [
    ("aegis-c-detector", "/health", {}, 200, lambda r: r.json()["status"] == "healthy"),
    (
        "aegis-c-detector",
        "/secure/ping",
        {"x-api-key": API_KEY},
        200,
        lambda r: r.json()["message"] == "pong",
    ),
    (
        "aegis-c-detector",
        "/metrics",
        {},
        200,
        lambda r: metric_value(r.text, "aegis_detection_scores_max") <= 0.8,
    ),
    ("aegis-c-quarantine", "/quarantine/list", {}, 200, lambda r: r.json()["count"] == 2),
    ("aegis-c-quarantine", "/health", {}, 200, lambda r: r.json()["status"] == "healthy"),
    ("aegis-c-events", "/events?severity=high", {}, 200, lambda r: r.json()["count"] == 0),
    ("aegis-c-events", "/events", {}, 200, lambda r: r.json()["count"] == 15),
    ("aegis-c-hardware", "/status", {}, 200, lambda r: r.json()["status"] == "ok"),
    (
        "aegis-c-hardware",
        "/metrics",
        {},
        200,
        lambda r: [gpu["temperature_c"] for gpu in r.json()["gpus"]] == [54.0, 57.0],
    ),
    (
        "aegis-c-threat-intel",
        "/analysis/ai-threats",
        {},
        200,
        lambda r: r.json()["age_seconds"] < 86_400,
    ),
    ("aegis-c-fingerprint", "/health", {}, 200, lambda r: r.json()["status"] == "healthy"),
    ("aegis-c-console", "/", {}, 200, lambda r: b"Sign in" in r.body),
    (
        "aegis-backend",
        "/api/v1/health",
        {},
        200,
        lambda r: (
            r.json()["status"] == "ok"
            and all(
                r.json()["info"][dep]["status"] == "up" for dep in ("database", "redis", "aiEngine")
            )
        ),
    ),
    (
        "aegis-backend",
        "/api/v1/health/ping",
        {},
        200,
        lambda r: r.json()["status"] == "ok" and r.json()["uptime"] >= 0,
    ),
    ("aegis-backend", "/api/v1/policy", BEARER_ADMIN, 200, lambda r: r.json()["count"] == 2),
    (
        "aegis-backend",
        "/metrics",
        {},
        200,
        lambda r: metric_value(r.text, "http_requests_total", {"status_code": "500"}) > 0,
    ),
    ("aegis-ai-engine", "/health", {}, 200, lambda r: r.json()["model_loaded"] is True),
    (
        "aegis-ai-engine",
        "/models",
        {"X-API-Key": API_KEY},
        200,
        lambda r: len(r.json()["models"]) == 2,
    ),
    ("aegis-executor", "/health", {}, 200, lambda r: r.json()["kubernetes"] == "connected"),
    ("aegis-executor", "/api/health", {}, 200, lambda r: r.json()["status"] == "ok"),
    ("aegis-frontend", "/", {}, 307, lambda r: r.headers["Location"] == "/login"),
    ("aegis-frontend", "/login", {}, 200, lambda r: b"Aegis" in r.body),
    (
        "aureus-api",
        "/health",
        {},
        200,
        lambda r: r.json()["services"] == {"bridge": "up", "aureus-os": "up", "openclaw": "up"},
    ),
    (
        "aureus-bridge",
        "/metrics",
        {},
        200,
        lambda r: (
            metric_value(r.text, "http_requests_total", {"code": "500"})
            / metric_value(r.text, "http_requests_total", {"code": "200"})
            < 0.01
        ),
    ),
    ("aureus-os", "/health", {}, 200, lambda r: r.json()["service"] == "aureus-os"),
    ("aureus-openclaw", "/health", {}, 200, lambda r: r.json()["status"] == "ok"),
    (
        "anomaly-detector",
        "/health",
        {},
        200,
        lambda r: r.json()["status"] == "healthy" and "timestamp" in r.json(),
    ),
    ("prometheus", "/-/healthy", {}, 200, lambda r: r.text == "Prometheus Server is Healthy.\n"),
    ("prometheus", "/-/ready", {}, 200, lambda r: r.text == "Prometheus Server is Ready.\n"),
    ("grafana", "/api/health", {}, 200, lambda r: r.json()["database"] == "ok"),
    (
        "grafana",
        "/api/search?query=System%20Overview",
        BEARER_ADMIN,
        200,
        lambda r: [hit["uid"] for hit in r.json()] == ["system-overview"],
    ),
    (
        "grafana",
        "/api/datasources/uid/loki/health",
        BEARER_ADMIN,
        200,
        lambda r: r.json()["status"] == "OK",
    ),
    ("loki", "/ready", {}, 200, lambda r: r.text == "ready\n"),
    ("loki", "/loki/api/v1/labels", {}, 200, lambda r: "job" in r.json()["data"]),
]


@pytest.mark.parametrize(
    ("service", "path", "headers", "status", "check"),
    HEALTHY,
    ids=[f"{row[0]}{row[1]}" for row in HEALTHY],
)
def test_healthy_endpoint(
    stack: SimStack, service: str, path: str, headers: dict[str, str], status: int, check: Any
) -> None:
    reply = fetch(url(stack, service), path, headers=headers)
    assert reply.status == status, reply.text
    assert check(reply), reply.text


def test_every_service_has_a_url_and_answers(stack: SimStack) -> None:
    assert set(stack.urls) == set(SERVICE_NAMES)
    assert {row[0] for row in HEALTHY} == set(SERVICE_NAMES)


def test_anomaly_detector_exposes_the_runbook_metric_names(stack: SimStack) -> None:
    text = fetch(url(stack, "anomaly-detector"), "/metrics").text
    prefix = "anomaly_detector_"
    for name, healthy in {
        "input_queue_size": 1200,
        "processing_queue_size": 250,
        "alert_queue_size": 3,
        "cpu_usage_percent": 35,
        "memory_usage_percent": 52,
        "learning_model_health": 1,
        "processing_rate": 2500,
    }.items():
        assert metric_value(text, prefix + name) == healthy
    p95 = metric_value(text, f"{prefix}processing_duration_seconds", {"quantile": "0.95"})
    p99 = metric_value(text, f"{prefix}processing_duration_seconds", {"quantile": "0.99"})
    assert p95 < 1.0 and p99 < 5.0
    errors = metric_value(text, f"{prefix}processing_errors_total")
    assert errors / metric_value(text, f"{prefix}logs_processed_total") < 0.01
    for name in ("alerts_generated_total", "alerts_delivered_total", "alerts_failed_total"):
        assert metric_value(text, prefix + name) >= 0


def test_anomaly_counters_advance_while_healthy(stack: SimStack) -> None:
    def processed() -> float:
        text = fetch(url(stack, "anomaly-detector"), "/metrics").text
        return metric_value(text, "anomaly_detector_logs_processed_total")

    first = processed()
    time.sleep(0.05)
    assert processed() > first


# -- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "path", "headers", "status"),
    [
        ("aegis-c-detector", "GET", "/secure/ping", {}, 401),
        ("aegis-c-detector", "GET", "/secure/ping", {"x-api-key": "changeme-dev"}, 401),
        ("aegis-backend", "GET", "/api/v1/policy", {}, 401),
        ("aegis-backend", "PUT", "/api/v1/policy/1", {}, 401),
        (
            "aegis-backend",
            "PUT",
            "/api/v1/policy/1",
            {"Authorization": f"Bearer viewer-{API_KEY}"},
            403,
        ),
        ("aegis-backend", "PUT", "/api/v1/policy/999", BEARER_ADMIN, 404),
        ("aegis-backend", "PUT", "/api/v1/policy/1", BEARER_ADMIN, 200),
        ("aegis-ai-engine", "GET", "/models", {"X-API-Key": "revoked"}, 401),
        ("grafana", "GET", "/api/search", {}, 401),
        (
            "grafana",
            "GET",
            "/api/search",
            {"Authorization": "Basic " + base64.b64encode(f"admin:{API_KEY}".encode()).decode()},
            200,
        ),
    ],
)
def test_authentication(
    stack: SimStack, service: str, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    body = {"effect": "DENY"} if method == "PUT" else None
    assert fetch(url(stack, service), path, method, headers, body).status == status


def test_auth_failures_are_counted(stack: SimStack) -> None:
    def failures() -> float:
        text = fetch(url(stack, "aegis-c-detector"), "/metrics").text
        return metric_value(text, "aegis_detector_auth_failures_total")

    before = failures()
    fetch(url(stack, "aegis-c-detector"), "/secure/ping", headers={"x-api-key": "wrong"})
    assert failures() == before + 1


def test_viewer_token_is_published(stack: SimStack) -> None:
    assert stack.tokens == {"admin": API_KEY, "viewer": f"viewer-{API_KEY}"}


# -- faults -------------------------------------------------------------------------------


def test_down_refuses_connections_and_drops_open_ones(stack: SimStack) -> None:
    base = urlsplit(url(stack, "aegis-c-detector"))
    assert base.hostname is not None and base.port is not None
    kept = http.client.HTTPConnection(base.hostname, base.port, timeout=TIMEOUT)
    kept.request("GET", "/health")
    assert kept.getresponse().read()
    stack.set_fault("aegis-c-detector", "down")
    with pytest.raises(ConnectionRefusedError):
        fetch(url(stack, "aegis-c-detector"), "/health")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        kept.request("GET", "/health")
        kept.getresponse()
    kept.close()
    stack.clear_faults("aegis-c-detector")
    assert fetch(url(stack, "aegis-c-detector"), "/health").status == 200


def test_slow_delays_answers(stack: SimStack) -> None:
    stack.set_fault("aegis-backend", "slow", seconds=0.3, path="/api/v1/health/ping")
    assert fetch(url(stack, "aegis-backend"), "/api/v1/health/ping").elapsed >= 0.3
    assert fetch(url(stack, "aegis-backend"), "/api/v1/health").elapsed < 0.3
    with pytest.raises(TimeoutError):
        fetch(url(stack, "aegis-backend"), "/api/v1/health/ping", timeout=0.1)


UNHEALTHY = [
    (
        "aegis-c-detector",
        {"dependency": "redis"},
        "/health",
        503,
        lambda r: r.json()["dependencies"]["redis"] == "down",
    ),
    (
        "aegis-c-hardware",
        {"gpu": 1},
        "/status",
        503,
        lambda r: [gpu["status"] for gpu in r.json()["gpus"]] == ["ok", "error"],
    ),
    (
        "aegis-backend",
        {"dependency": "redis"},
        "/api/v1/health",
        503,
        lambda r: r.json()["status"] == "error" and r.json()["error"]["redis"]["status"] == "down",
    ),
    ("aegis-backend", {}, "/api/v1/health/ping", 200, lambda r: r.json()["status"] == "ok"),
    (
        "aegis-ai-engine",
        {"dependency": "model"},
        "/health",
        503,
        lambda r: r.json()["model_loaded"] is False,
    ),
    (
        "aegis-executor",
        {"dependency": "kubernetes"},
        "/api/health",
        503,
        lambda r: r.json()["kubernetes"] == "disconnected",
    ),
    ("aegis-frontend", {}, "/", 503, lambda r: b"503" in r.body),
    ("aureus-bridge", {}, "/health", 503, lambda r: r.json()["status"] == "unhealthy"),
    ("anomaly-detector", {}, "/health", 503, lambda r: r.json()["status"] == "unhealthy"),
    ("prometheus", {}, "/-/healthy", 503, lambda r: b"not Healthy" in r.body),
    ("grafana", {}, "/api/health", 503, lambda r: r.json()["database"] == "failing"),
    ("loki", {}, "/ready", 503, lambda r: r.text.startswith("Ingester not ready")),
]


@pytest.mark.parametrize(
    ("service", "params", "path", "status", "check"),
    UNHEALTHY,
    ids=[f"{row[0]}{row[2]}" for row in UNHEALTHY],
)
def test_unhealthy(
    stack: SimStack, service: str, params: dict[str, Any], path: str, status: int, check: Any
) -> None:
    stack.set_fault(service, "unhealthy", **params)
    reply = fetch(url(stack, service), path)
    assert reply.status == status, reply.text
    assert check(reply), reply.text


@pytest.mark.parametrize(
    ("failing", "dependent", "path", "check"),
    [
        (
            "aegis-ai-engine",
            "aegis-backend",
            "/api/v1/health",
            lambda r: r.json()["error"]["aiEngine"]["status"] == "down",
        ),
        (
            "aureus-openclaw",
            "aureus-api",
            "/health",
            lambda r: r.json()["services"]["openclaw"] == "down",
        ),
    ],
)
def test_dependency_failure_propagates(
    stack: SimStack, failing: str, dependent: str, path: str, check: Any
) -> None:
    stack.set_fault(failing, "down")
    reply = fetch(url(stack, dependent), path)
    assert reply.status == 503 and check(reply), reply.text


def test_grafana_loki_datasource_follows_loki(stack: SimStack) -> None:
    stack.set_fault("loki", "down")
    reply = fetch(url(stack, "grafana"), "/api/datasources/uid/loki/health", headers=BEARER_ADMIN)
    assert reply.status == 400 and reply.json()["status"] == "ERROR"


def test_metric_pins_a_prometheus_sample(stack: SimStack) -> None:
    stack.set_fault(
        "anomaly-detector", "metric", name="anomaly_detector_memory_usage_percent", value=92
    )
    text = fetch(url(stack, "anomaly-detector"), "/metrics").text
    assert metric_value(text, "anomaly_detector_memory_usage_percent") == 92
    assert metric_value(text, "anomaly_detector_cpu_usage_percent") == 35


def test_metric_pins_a_labelled_quantile(stack: SimStack) -> None:
    stack.set_fault(
        "anomaly-detector",
        "metric",
        name="anomaly_detector_processing_duration_seconds",
        labels={"quantile": "0.95"},
        value=1.7,
    )
    text = fetch(url(stack, "anomaly-detector"), "/metrics").text
    name = "anomaly_detector_processing_duration_seconds"
    assert metric_value(text, name, {"quantile": "0.95"}) == 1.7
    assert metric_value(text, name, {"quantile": "0.99"}) == 0.42


def test_metric_rate_changes_how_fast_a_counter_grows(stack: SimStack) -> None:
    name = "anomaly_detector_processing_errors_total"
    stack.set_fault("anomaly-detector", "metric", name=name, rate=100_000)
    first = metric_value(fetch(url(stack, "anomaly-detector"), "/metrics").text, name)
    time.sleep(0.05)
    second = metric_value(fetch(url(stack, "anomaly-detector"), "/metrics").text, name)
    assert second - first >= 2_000  # healthy rate is 0.5/s


def test_metric_sets_one_gpu_field(stack: SimStack) -> None:
    stack.set_fault("aegis-c-hardware", "metric", name="temperature_c", value=92, gpu=0)
    gpus = fetch(url(stack, "aegis-c-hardware"), "/metrics").json()["gpus"]
    assert [gpu["temperature_c"] for gpu in gpus] == [92.0, 57.0]
    status = fetch(url(stack, "aegis-c-hardware"), "/status").json()
    assert status["status"] == "warning" and status["gpus"][0]["status"] == "warning"


def test_metric_sets_a_json_count(stack: SimStack) -> None:
    stack.set_fault("aegis-c-events", "metric", name="events_high", value=4)
    reply = fetch(url(stack, "aegis-c-events"), "/events?severity=high").json()
    assert reply["count"] == 4 and {event["severity"] for event in reply["events"]} == {"high"}


@pytest.mark.parametrize(
    ("service", "kind", "params", "message"),
    [
        ("anomaly-detector", "metric", {"name": "no_such_metric", "value": 1}, "unknown metric"),
        (
            "anomaly-detector",
            "metric",
            {"name": "anomaly_detector_cpu_usage_percent", "rate": 1},
            "not a counter",
        ),
        ("anomaly-detector", "slow", {"seconds": -1}, "seconds"),
        ("anomaly-detector", "auth_open", {}, "does not support"),
        ("aegis-backend", "unhealthy", {"dependency": "kafka"}, "unknown dependency"),
        ("aegis-backend", "melt", {}, "unknown fault kind"),
        (
            "aegis-c-detector",
            "metric",
            {"name": "aegis_detection_scores", "value": 0.9},
            "no sample of its own",
        ),
        ("no-such-service", "down", {}, "unknown service"),
    ],
)
def test_invalid_faults_are_refused(
    stack: SimStack, service: str, kind: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(FaultError, match=message):
        stack.set_fault(service, kind, **params)


@pytest.mark.parametrize(
    ("service", "method", "path", "headers"),
    [
        ("aegis-c-detector", "GET", "/secure/ping", {}),
        ("aegis-backend", "PUT", "/api/v1/policy/2", {}),
        ("aegis-ai-engine", "GET", "/models", {}),
        ("grafana", "GET", "/api/search", {}),
    ],
)
def test_auth_open_lets_anyone_in(
    stack: SimStack, service: str, method: str, path: str, headers: dict[str, str]
) -> None:
    body = {"effect": "ALLOW"} if method == "PUT" else None
    assert fetch(url(stack, service), path, method, headers, body).status in (401, 403)
    stack.set_fault(service, "auth_open")
    assert fetch(url(stack, service), path, method, headers, body).status == 200


def test_stalled_stops_counters_but_not_health(stack: SimStack) -> None:
    stack.set_fault("anomaly-detector", "stalled")
    first = fetch(url(stack, "anomaly-detector"), "/metrics").text
    time.sleep(0.05)
    second = fetch(url(stack, "anomaly-detector"), "/metrics").text
    name = "anomaly_detector_logs_processed_total"
    assert metric_value(first, name) == metric_value(second, name)
    assert metric_value(second, "anomaly_detector_processing_rate") == 0
    assert fetch(url(stack, "anomaly-detector"), "/health").json()["status"] == "healthy"
    stack.clear_faults("anomaly-detector")
    time.sleep(0.05)
    third = fetch(url(stack, "anomaly-detector"), "/metrics").text
    assert metric_value(third, name) > metric_value(second, name)


def test_stalled_threat_feed_stops_updating(stack: SimStack) -> None:
    stack.set_fault("aegis-c-threat-intel", "stalled")
    first = fetch(url(stack, "aegis-c-threat-intel"), "/analysis/ai-threats").json()
    time.sleep(0.05)
    second = fetch(url(stack, "aegis-c-threat-intel"), "/analysis/ai-threats").json()
    assert first["last_updated"] == second["last_updated"]
    assert second["age_seconds"] > first["age_seconds"]


def test_error_answers_500(stack: SimStack) -> None:
    stack.set_fault("aegis-c-quarantine", "error")
    assert fetch(url(stack, "aegis-c-quarantine"), "/quarantine/list").status == 500
    stack.set_fault("aegis-c-quarantine", "error", status=503, path="/health")
    assert fetch(url(stack, "aegis-c-quarantine"), "/health").status == 503
    assert fetch(url(stack, "aegis-c-quarantine"), "/quarantine/list").status == 200


def test_every_fault_kind_is_exercised() -> None:
    assert set(FAULT_KINDS) == {
        "down",
        "slow",
        "unhealthy",
        "metric",
        "auth_open",
        "stalled",
        "error",
    }


# -- remediation targets ------------------------------------------------------------------


def test_gpu_reset_is_recorded_and_cools_the_gpu(stack: SimStack) -> None:
    stack.set_fault("aegis-c-hardware", "metric", name="temperature_c", value=92, gpu=0)
    reply = fetch(
        url(stack, "aegis-c-hardware"), "/policy/execute?action=reset&target_gpu=0", "POST"
    )
    assert reply.status == 200 and reply.json()["status"] == "executed"
    assert stack.calls("aegis-c-hardware")[-1]["query"] == {"action": "reset", "target_gpu": "0"}
    gpus = fetch(url(stack, "aegis-c-hardware"), "/metrics").json()["gpus"]
    assert gpus[0]["temperature_c"] == 54.0
    assert (
        fetch(
            url(stack, "aegis-c-hardware"), "/policy/execute?action=melt&target_gpu=0", "POST"
        ).status
        == 422
    )
    assert (
        fetch(
            url(stack, "aegis-c-hardware"), "/policy/execute?action=reset&target_gpu=7", "POST"
        ).status
        == 404
    )


def test_anomaly_admin_backpressure_relieves_memory(stack: SimStack) -> None:
    name = "anomaly_detector_memory_usage_percent"
    stack.set_fault("anomaly-detector", "metric", name=name, value=96)
    reply = fetch(url(stack, "anomaly-detector"), "/admin/enable-backpressure", "POST")
    assert reply.status == 200
    assert metric_value(fetch(url(stack, "anomaly-detector"), "/metrics").text, name) == 52
    set_workers = fetch(
        url(stack, "anomaly-detector"), "/admin/set-workers", "POST", body={"count": 4}
    )
    assert set_workers.json()["applied"] == {"count": 4}
    assert [call["path"] for call in stack.calls("anomaly-detector")][-2:] == [
        "/admin/enable-backpressure",
        "/admin/set-workers",
    ]


# -- HTTP control interface ---------------------------------------------------------------


def test_control_interface_sets_lists_and_clears_faults(stack: SimStack) -> None:
    control = stack.control_url
    spec = {
        "kind": "metric",
        "params": {"name": "anomaly_detector_alert_queue_size", "value": 6000},
    }
    reply = fetch(control, "/faults/anomaly-detector", "POST", body=spec)
    assert reply.status == 200 and reply.json()[0]["params"]["value"] == 6000
    text = fetch(url(stack, "anomaly-detector"), "/metrics").text
    assert metric_value(text, "anomaly_detector_alert_queue_size") == 6000
    assert fetch(control, "/faults").json()["anomaly-detector"] == [
        {
            "kind": "metric",
            "params": {"name": "anomaly_detector_alert_queue_size", "value": 6000.0, "labels": {}},
        }
    ]
    assert fetch(control, "/faults/anomaly-detector", "DELETE").status == 204
    assert fetch(control, "/faults").json()["anomaly-detector"] == []


def test_control_interface_down_and_restore(stack: SimStack) -> None:
    control = stack.control_url
    assert fetch(control, "/faults/loki", "POST", body={"kind": "down"}).status == 200
    with pytest.raises(ConnectionRefusedError):
        fetch(url(stack, "loki"), "/ready")
    assert fetch(control, "/faults", "DELETE").status == 204
    assert fetch(url(stack, "loki"), "/ready").status == 200


def test_control_interface_rejects_bad_requests(stack: SimStack) -> None:
    control = stack.control_url
    assert fetch(control, "/faults/nope", "POST", body={"kind": "down"}).status == 404
    assert fetch(control, "/faults/loki", "POST", body={"kind": "melt"}).status == 400
    assert fetch(control, "/faults/loki", "POST", body={"params": {}}).status == 400
    assert fetch(control, "/services").json() == stack.urls
    assert fetch(control, "/calls/aegis-c-hardware").status == 200


# -- Loki ---------------------------------------------------------------------------------


def push(stack: SimStack, streams: list[dict[str, Any]]) -> Reply:
    return fetch(url(stack, "loki"), "/loki/api/v1/push", "POST", body={"streams": streams})


def loki_get(stack: SimStack, path: str, **params: Any) -> Reply:
    return fetch(url(stack, "loki"), f"{path}?{urlencode(params)}")


@pytest.fixture
def pushed(stack: SimStack) -> dict[str, Any]:
    """Six lines for a fresh job at known times (1 s apart, ending 10 s ago)."""
    job = f"vigil-{uuid.uuid4().hex[:8]}"
    end_ns = (int(time.time()) - 10) * 10**9
    times = [end_ns - (5 - index) * 10**9 for index in range(6)]
    lines = [
        "INFO started",
        "ERROR db timeout",
        "INFO ok",
        "ERROR disk full",
        "WARN slow",
        "ERROR db timeout again",
    ]
    api_lines = [("api", ts, line) for ts, line in zip(times[:3], lines[:3], strict=True)]
    worker = [("worker", ts, line) for ts, line in zip(times[3:], lines[3:], strict=True)]
    streams = [
        {"stream": {"job": job, "component": component}, "values": [[str(ts), line]]}
        for component, ts, line in api_lines + worker
    ]
    assert push(stack, streams).status == 204
    return {"job": job, "times": times, "lines": lines}


def test_loki_query_range_returns_streams(stack: SimStack, pushed: dict[str, Any]) -> None:
    start, end = pushed["times"][0], pushed["times"][-1] + 1
    reply = loki_get(
        stack,
        "/loki/api/v1/query_range",
        query=f'{{job="{pushed["job"]}"}}',
        start=start,
        end=end,
        limit=100,
    )
    data = reply.json()["data"]
    assert reply.json()["status"] == "success" and data["resultType"] == "streams"
    by_component = {item["stream"]["component"]: item["values"] for item in data["result"]}
    assert [line for _, line in by_component["api"]] == [
        "INFO ok",
        "ERROR db timeout",
        "INFO started",
    ]
    assert by_component["worker"][0] == [str(pushed["times"][-1]), "ERROR db timeout again"]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        ('|= "ERROR"', 3),
        ('!= "ERROR"', 3),
        ('|~ "ERROR db.*"', 2),
        ('|= "ERROR" != "again"', 2),
        ('!~ "INFO|WARN"', 3),
    ],
)
def test_loki_line_filters(
    stack: SimStack, pushed: dict[str, Any], pipeline: str, expected: int
) -> None:
    reply = loki_get(
        stack,
        "/loki/api/v1/query_range",
        query=f'{{job="{pushed["job"]}"}} {pipeline}',
        start=pushed["times"][0],
        end=pushed["times"][-1] + 1,
    )
    assert sum(len(item["values"]) for item in reply.json()["data"]["result"]) == expected


def test_loki_limit_and_direction(stack: SimStack, pushed: dict[str, Any]) -> None:
    query = f'{{job="{pushed["job"]}"}}'
    window = {"start": pushed["times"][0], "end": pushed["times"][-1] + 1, "limit": 2}
    forward = loki_get(
        stack, "/loki/api/v1/query_range", query=query, direction="forward", **window
    ).json()["data"]["result"]
    assert [v for item in forward for _, v in item["values"]] == pushed["lines"][:2]
    backward = loki_get(stack, "/loki/api/v1/query_range", query=query, **window)
    lines = sorted(v for item in backward.json()["data"]["result"] for _, v in item["values"])
    assert lines == sorted(pushed["lines"][-2:])


def test_loki_count_over_time_instant(stack: SimStack, pushed: dict[str, Any]) -> None:
    at = pushed["times"][-1] / 1e9
    query = f'count_over_time({{job="{pushed["job"]}"}} |= "ERROR" [5m])'
    result = loki_get(stack, "/loki/api/v1/query", query=query, time=f"{at:.3f}").json()["data"]
    assert result["resultType"] == "vector"
    counts = {item["metric"]["component"]: item["value"][1] for item in result["result"]}
    assert counts == {"api": "1", "worker": "2"}
    total = loki_get(stack, "/loki/api/v1/query", query=f"sum({query})", time=f"{at:.3f}")
    assert [item["value"][1] for item in total.json()["data"]["result"]] == ["3"]
    assert total.json()["data"]["result"][0]["metric"] == {}


def test_loki_count_over_time_matrix(stack: SimStack, pushed: dict[str, Any]) -> None:
    first = pushed["times"][0] // 10**9
    query = f'sum by (job) (count_over_time({{job="{pushed["job"]}"}}[2s]))'
    reply = loki_get(
        stack, "/loki/api/v1/query_range", query=query, start=first, end=first + 5, step=1
    )
    data = reply.json()["data"]
    assert data["resultType"] == "matrix"
    (series,) = data["result"]
    assert series["metric"] == {"job": pushed["job"]}
    assert series["values"] == [
        [first + offset, value] for offset, value in enumerate(["1", "2", "2", "2", "2", "2"])
    ]


def test_loki_regex_selector_spans_streams(stack: SimStack, pushed: dict[str, Any]) -> None:
    query = f'sum(count_over_time({{job=~"{pushed["job"]}|nothing", component=~"api|worker"}}[1h]))'
    reply = loki_get(stack, "/loki/api/v1/query", query=query, time=str(pushed["times"][-1] + 1))
    assert reply.json()["data"]["result"][0]["value"][1] == "6"


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/loki/api/v1/query_range", {"query": '{job="x"'}, "parse error"),
        ("/loki/api/v1/query_range", {"query": '{job=~".*"}'}, "empty-compatible"),
        ("/loki/api/v1/query", {"query": '{job="bridge"}'}, "not supported as an instant"),
        ("/loki/api/v1/query_range", {"query": '{job="x"} | json'}, "only line filters"),
        ("/loki/api/v1/query_range", {"query": '{job="x"}', "limit": 6000}, "max entries"),
        ("/loki/api/v1/query_range", {"query": '{job="x"}', "start": "yesterday"}, "timestamp"),
    ],
)
def test_loki_bad_queries_are_400_text(
    stack: SimStack, path: str, params: dict[str, Any], message: str
) -> None:
    reply = loki_get(stack, path, **params)
    assert reply.status == 400 and message in reply.text


def test_loki_push_rejects_bad_bodies(stack: SimStack) -> None:
    assert push(stack, [{"stream": {}, "values": [["1", "x"]]}]).status == 400
    assert push(stack, [{"stream": {"job": "x"}, "values": [["soon", "x"]]}]).status == 400
    reply = fetch(
        url(stack, "loki"),
        "/loki/api/v1/push",
        "POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert reply.status == 415


def test_loki_ships_synthetic_aureus_logs(stack: SimStack) -> None:
    reply = loki_get(
        stack, "/loki/api/v1/query_range", query='{job="bridge"} |= "INFO"', since="10m", limit=5
    )
    (stream,) = reply.json()["data"]["result"]
    assert stream["stream"] == {"job": "bridge", "namespace": "aureus", "app": "bridge"}
    assert len(stream["values"]) == 5


def test_loki_synthetic_logs_turn_to_errors_while_a_service_fails() -> None:
    now = [1_700_000_000.0]
    context = SimContext(api_key="k", wall=lambda: now[0])
    loki = Loki("loki", context, jobs={"bridge": "aureus-bridge"})
    bridge = Component("aureus-bridge", context, "bridge", 120.0)
    bridge.faults.add(Fault("error", {"status": 500}))
    context.peers["aureus-bridge"] = bridge
    now[0] += 20
    loki.ship_synthetic_logs()
    query = parse('count_over_time({job="bridge"} |= "ERROR" [15s])')
    assert list(loki.store.instant(query, int(now[0] * 10**9)).values()) == [3.0]


def test_loki_stall_leaves_a_gap_and_other_faults_do_not() -> None:
    now = [1_700_000_000.0]
    loki = Loki("loki", SimContext(api_key="k", wall=lambda: now[0]), jobs={"bridge": "x"})

    def shipped() -> int:
        loki.ship_synthetic_logs()
        query = parse('{job="bridge"}')
        assert isinstance(query, LogQuery)
        (stream,) = loki.store.streams(query)
        return len(stream.entries)

    def change(fault: Fault | None) -> None:
        if fault is None:
            loki.faults.clear()
        else:
            loki.faults.add(fault)
        loki.on_faults_changed()

    assert shipped() == 721  # an hour of history, one line every 5 s, both ends included
    change(Fault("slow", {"seconds": 1.0}))
    change(None)
    now[0] += 10
    assert shipped() == 723
    change(Fault("stalled"))
    now[0] += 30
    assert shipped() == 723
    change(None)
    now[0] += 10
    assert shipped() == 725


def test_logql_parser_shapes() -> None:
    query = parse('{job="a", env!="dev"} |= "x" |~ `re\\d`')
    assert isinstance(query, LogQuery) and len(query.matchers) == 2
    assert query.filters[1].value == "re\\d"
    aggregation = parse('sum(count_over_time({job="a"}[1h30m])) by (job)')
    assert isinstance(aggregation, VectorAggregation) and aggregation.grouping == ("job",)
    assert isinstance(aggregation.inner, RangeAggregation)
    assert aggregation.inner.range_ns == 5400 * 10**9
    with pytest.raises(LogQLError):
        parse('count_over_time({job="a"}[5x])')


# -- lifecycle ----------------------------------------------------------------------------


def _sim_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "vigil-sim"]


def test_stack_starts_fast_and_stops_clean() -> None:
    threads_before = len(_sim_threads())
    started = time.monotonic()
    running = start_stack()
    took = time.monotonic() - started
    assert took < 1.0, f"start took {took:.3f} s"
    assert fetch(running.urls["anomaly-detector"], "/health").status == 200
    running.stop()
    running.stop()
    assert len(_sim_threads()) == threads_before
    with pytest.raises(ConnectionRefusedError):
        fetch(running.urls["anomaly-detector"], "/health")
    with pytest.raises(ConnectionRefusedError):
        fetch(running.control_url, "/faults")
    with pytest.raises(RuntimeError):
        running.set_fault("loki", "down")


def test_stack_starts_with_initial_faults() -> None:
    faults: dict[str, list[dict[str, Any]]] = {
        "aegis-c-hardware": [{"kind": "down"}],
        "anomaly-detector": [
            {
                "kind": "metric",
                "params": {"name": "anomaly_detector_input_queue_size", "value": 60_000},
            }
        ],
    }
    with start_stack(faults, api_key="other") as running:
        with pytest.raises(ConnectionRefusedError):
            fetch(running.urls["aegis-c-hardware"], "/status")
        text = fetch(running.urls["anomaly-detector"], "/metrics").text
        assert metric_value(text, "anomaly_detector_input_queue_size") == 60_000
        assert (
            fetch(
                running.urls["aegis-c-detector"], "/secure/ping", headers={"x-api-key": "other"}
            ).status
            == 200
        )
        running.clear_faults("aegis-c-hardware")
        assert fetch(running.urls["aegis-c-hardware"], "/status").status == 200


def test_invalid_initial_fault_leaks_nothing() -> None:
    threads_before = len(_sim_threads())
    with pytest.raises(FaultError):
        start_stack({"loki": [{"kind": "auth_open"}]})
    assert len(_sim_threads()) == threads_before


def test_env_names_every_service(stack: SimStack) -> None:
    env = stack.env()
    assert env["VIGIL_SIM_AEGIS_C_DETECTOR_URL"] == stack.urls["aegis-c-detector"]
    assert env["VIGIL_SIM_CONTROL_URL"] == stack.control_url
    assert len(env) == len(SERVICE_NAMES) + 1


def test_module_runs_in_the_foreground(tmp_path: Path) -> None:
    env_file = tmp_path / "sim.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "testbed.sim",
            "--env-file",
            str(env_file),
            "--fault",
            "anomaly-detector:stalled",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env_file.exists(), "the stack never wrote its env file"
        variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        health = fetch(variables["VIGIL_SIM_LOKI_URL"], "/ready")
        assert health.status == 200
        faults = fetch(variables["VIGIL_SIM_CONTROL_URL"], "/faults").json()
        assert faults["anomaly-detector"] == [{"kind": "stalled", "params": {}}]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "anomaly-detector" in stderr and "simulator stack stopped" in stderr
