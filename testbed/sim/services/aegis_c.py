"""AEGIS-C (seed 000) simulated: detector, quarantine, events, hardware, threat intel, UI.

Runbook ports: detector 8010, quarantine 8013, events 8015, hardware 8016, threat intel 8018;
fingerprint and console are named without a port. Field names the runbook does not give
(hardware JSON, event and quarantine records) are this simulation's choice, documented in
``testbed/sim/README.md``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from aiohttp import web

from testbed.sim.faults import AUTH_OPEN, DOWN, ERROR, METRIC, SLOW, STALLED, UNHEALTHY
from testbed.sim.service import SimContext, SimService, iso_now, json_response

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
DETECTOR_VERSION = "2.3.1"
BASIC_FAULTS = frozenset({DOWN, SLOW, UNHEALTHY, ERROR})

LATENCY_BUCKETS = (
    (0.05, 0.30),
    (0.1, 0.62),
    (0.25, 0.90),
    (0.5, 0.97),
    (1.0, 0.995),
    (2.0, 0.999),
    (5.0, 1.0),
)
# Healthy traffic: every detection score at or below 0.8 (the runbook's alert threshold).
SCORE_BUCKETS = (
    (0.1, 0.55),
    (0.2, 0.74),
    (0.3, 0.85),
    (0.4, 0.92),
    (0.5, 1.0),
    (0.6, 1.0),
    (0.7, 1.0),
    (0.8, 1.0),
    (0.9, 1.0),
    (1.0, 1.0),
)


def _health(service: SimService, component: str) -> web.Response:
    body: dict[str, Any] = {
        "status": "healthy",
        "service": component,
        "version": DETECTOR_VERSION,
        "timestamp": iso_now(service.ctx.wall()),
    }
    dependencies = {name: "up" for name in service.dependencies}
    fault = service.unhealthy()
    if fault is not None:
        body["status"] = "unhealthy"
        if "dependency" in fault.params:
            dependencies[fault.params["dependency"]] = "down"
    if dependencies:
        body["dependencies"] = dependencies
    return json_response(body, status=503 if fault else 200)


class Detector(SimService):
    """``/health``, ``/secure/ping`` (x-api-key) and Prometheus ``/metrics``."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, AUTH_OPEN, STALLED, ERROR})
    dependencies = ("redis", "postgres")

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "AEGIS-C detector (runbook port 8010)")
        m = self.metrics
        requests = "Detection requests handled, by endpoint and HTTP status."
        m.counter(
            "aegis_detector_requests_total",
            requests,
            482_000,
            39.92,
            {"endpoint": "/detect", "status": "200"},
        )
        m.counter(
            "aegis_detector_requests_total",
            requests,
            960,
            0.08,
            {"endpoint": "/detect", "status": "500"},
        )
        errors = "Detection errors, by type (they are the status 500 requests)."
        m.counter("aegis_detector_errors_total", errors, 600, 0.05, {"type": "internal"})
        m.counter("aegis_detector_errors_total", errors, 360, 0.03, {"type": "timeout"})
        self._auth_failures = m.counter(
            "aegis_detector_auth_failures_total",
            "Requests rejected for a missing or invalid x-api-key.",
            12,
            0.0,
        )
        m.histogram(
            "aegis_detector_request_duration_seconds",
            "Request latency.",
            LATENCY_BUCKETS,
            482_960,
            40.0,
            0.12,
        )
        m.summary(
            "aegis_detector_response_time_seconds",
            "Response time quantiles (5 min).",
            {0.5: 0.085, 0.95: 0.41, 0.99: 0.95},
            482_960,
            40.0,
            0.12,
        )
        m.histogram(
            "aegis_detection_scores",
            "Detection scores of analysed inputs (0-1).",
            SCORE_BUCKETS,
            482_000,
            39.92,
            0.12,
        )
        m.gauge(
            "aegis_detection_scores_max", "Highest detection score in the last 5 minutes.", 0.46
        )
        verdicts = "Detection verdicts."
        m.counter("aegis_detector_verdicts_total", verdicts, 470_100, 39.1, {"verdict": "benign"})
        m.counter(
            "aegis_detector_verdicts_total", verdicts, 11_900, 0.82, {"verdict": "suspicious"}
        )
        m.counter("aegis_detector_verdicts_total", verdicts, 0, 0.0, {"verdict": "malicious"})
        m.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", 412_000_000)
        m.counter("process_cpu_seconds_total", "Total user and system CPU time.", 8_200, 0.35)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/secure/ping", self._secure_ping)
        app.router.add_get("/metrics", self._metrics)

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, "detector")

    async def _secure_ping(self, request: web.Request) -> web.Response:
        supplied = request.headers.get(API_KEY_HEADER)
        if self.auth_enforced() and supplied != self.ctx.api_key:
            self._auth_failures.add(1)
            detail = "Missing API key" if supplied is None else "Invalid API key"
            logger.info("%s: Unauthorized /secure/ping (%s)", self.name, detail)
            return json_response({"detail": f"Unauthorized: {detail}"}, status=401)
        return json_response({"status": "ok", "message": "pong", "authenticated": True})

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


class Quarantine(SimService):
    """``/health`` and ``/quarantine/list`` (runbook port 8013)."""

    fault_kinds = BASIC_FAULTS | {METRIC}

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "AEGIS-C quarantine (runbook port 8013)")
        self.fields = {"count": 2}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/quarantine/list", self._list)

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, "quarantine")

    async def _list(self, request: web.Request) -> web.Response:
        count = int(self.field("count"))
        now = self.ctx.wall()
        items = [
            {
                "id": f"q-{index + 1:04d}",
                "sha256": hashlib.sha256(f"sample-{index}".encode()).hexdigest(),
                "reason": "detector verdict: malicious",
                "source": "detector",
                "status": "quarantined",
                "quarantined_at": iso_now(now - 86_400 * (index + 1)),
            }
            for index in range(count)
        ]
        return json_response({"items": items, "count": count})


class Events(SimService):
    """``/health`` and ``/events?severity=...`` (runbook port 8015)."""

    fault_kinds = BASIC_FAULTS | {METRIC}
    severities = ("critical", "high", "medium", "low")

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "AEGIS-C security events (runbook port 8015)")
        self.fields = {"events_critical": 0, "events_high": 0, "events_medium": 3, "events_low": 12}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/events", self._events)

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, "events")

    async def _events(self, request: web.Request) -> web.Response:
        wanted = request.query.get("severity")
        if wanted is not None and wanted not in self.severities:
            detail = f"severity must be one of {', '.join(self.severities)}"
            return json_response({"detail": detail}, status=422)
        now = self.ctx.wall()
        events = []
        for severity in self.severities:
            if wanted is not None and severity != wanted:
                continue
            for index in range(int(self.field(f"events_{severity}"))):
                events.append(
                    {
                        "id": f"evt-{severity}-{index + 1:04d}",
                        "timestamp": iso_now(now - 300 * (index + 1)),
                        "severity": severity,
                        "type": "auth_failure"
                        if severity in ("critical", "high")
                        else "rate_limit",
                        "source": "detector",
                        "message": f"{severity} security event {index + 1}",
                    }
                )
        return json_response({"events": events, "count": len(events)})


GPU_HEALTHY = (
    {
        "temperature_c": 54.0,
        "memory_used_mb": 14_336.0,
        "utilization_percent": 41.0,
        "power_draw_w": 212.0,
        "memory_total_mb": 40_960.0,
    },
    {
        "temperature_c": 57.0,
        "memory_used_mb": 12_288.0,
        "utilization_percent": 38.0,
        "power_draw_w": 198.0,
        "memory_total_mb": 40_960.0,
    },
)
GPU_NAME = "NVIDIA A100-SXM4-40GB"
GPU_TEMPERATURE_LIMIT_C = 85.0
POLICY_ACTIONS = ("reset", "throttle", "isolate")


class Hardware(SimService):
    """GPU hardware service (runbook port 8016): JSON ``/status``, ``/metrics``, policies."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, STALLED, ERROR})
    gpu_count = len(GPU_HEALTHY)

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "AEGIS-C hardware/GPU service (runbook port 8016)")
        self.fields = dict(GPU_HEALTHY[0])
        self._executions = 0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/policy/execute", self._execute)
        app.router.add_get("/policy/history", self._history)

    def _gpu(self, index: int) -> dict[str, Any]:
        def value(name: str) -> float:
            return self.field(name, gpu=index, healthy=GPU_HEALTHY[index][name])

        used, total = value("memory_used_mb"), value("memory_total_mb")
        return {
            "index": index,
            "name": GPU_NAME,
            "uuid": f"GPU-5d3c{index:04d}-7a1e-4c2b-9f0e-aegisc{index:06d}",
            "temperature_c": value("temperature_c"),
            "memory_used_mb": used,
            "memory_total_mb": total,
            "memory_utilization_percent": round(100 * used / total, 1) if total else 0.0,
            "utilization_percent": value("utilization_percent"),
            "power_draw_w": value("power_draw_w"),
        }

    def _gpu_state(self, gpu: dict[str, Any]) -> str:
        fault = self.unhealthy()
        if fault is not None and fault.params.get("gpu", gpu["index"]) == gpu["index"]:
            return "error"
        return "warning" if gpu["temperature_c"] > GPU_TEMPERATURE_LIMIT_C else "ok"

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, "hardware")

    async def _status(self, request: web.Request) -> web.Response:
        gpus = [self._gpu(index) for index in range(self.gpu_count)]
        states = [self._gpu_state(gpu) for gpu in gpus]
        overall = "error" if "error" in states else "warning" if "warning" in states else "ok"
        body = {
            "status": overall,
            "timestamp": iso_now(self.now_wall()),
            "gpu_count": self.gpu_count,
            "driver_version": "535.129.03",
            "cuda_version": "12.2",
            "gpus": [
                {key: gpu[key] for key in ("index", "name", "uuid", "temperature_c")}
                | {"status": state}
                for gpu, state in zip(gpus, states, strict=True)
            ],
            "policy": {"temperature_limit_c": GPU_TEMPERATURE_LIMIT_C, "auto_remediation": False},
        }
        return json_response(body, status=503 if overall == "error" else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        gpus = [self._gpu(index) for index in range(self.gpu_count)]
        return json_response({"timestamp": iso_now(self.now_wall()), "gpus": gpus})

    async def _execute(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body and request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params = {**body, **params}
        action, target = params.get("action"), params.get("target_gpu")
        if action not in POLICY_ACTIONS:
            detail = f"action must be one of {', '.join(POLICY_ACTIONS)}"
            return json_response({"detail": detail}, status=422)
        try:
            gpu = int(target) if target is not None else -1
        except (TypeError, ValueError):
            gpu = -1
        if not 0 <= gpu < self.gpu_count:
            return json_response({"detail": f"target_gpu {target!r} not found"}, status=404)
        self.record_call(request, {"action": action, "target_gpu": gpu})
        if action == "reset":
            self._reset(gpu)
        self._executions += 1
        return json_response(
            {
                "status": "executed",
                "action": action,
                "target_gpu": gpu,
                "execution_id": f"exec-{self._executions:06d}",
                "timestamp": iso_now(self.ctx.wall()),
                "result": f"GPU {gpu} {action} completed",
            }
        )

    def _reset(self, gpu: int) -> None:
        # A reset brings the GPU back to nominal: drop the faults that target it.
        removed = self.faults.remove(
            lambda fault: fault.kind in (METRIC, UNHEALTHY) and fault.params.get("gpu", gpu) == gpu
        )
        if removed:
            logger.info("%s: reset of GPU %d cleared %d fault(s)", self.name, gpu, len(removed))
            self.on_faults_changed()

    async def _history(self, request: web.Request) -> web.Response:
        return json_response({"executions": self.calls, "count": len(self.calls)})


class ThreatIntel(SimService):
    """``/health`` and ``/analysis/ai-threats`` (runbook port 8018) with a feed timestamp."""

    fault_kinds = BASIC_FAULTS | {METRIC, STALLED}

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "AEGIS-C threat intelligence (runbook port 8018)")
        self.fields = {"age_seconds": 21_600}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/analysis/ai-threats", self._threats)

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, "threat-intel")

    async def _threats(self, request: web.Request) -> web.Response:
        updated = self.now_wall() - self.field("age_seconds")
        threats = [
            {
                "id": "TI-2024-0142",
                "name": "Prompt injection through retrieved documents",
                "severity": "high",
                "category": "prompt-injection",
            },
            {
                "id": "TI-2024-0157",
                "name": "Model extraction via high-volume querying",
                "severity": "medium",
                "category": "model-theft",
            },
            {
                "id": "TI-2024-0163",
                "name": "Training-data poisoning of fine-tuning sets",
                "severity": "medium",
                "category": "data-poisoning",
            },
        ]
        return json_response(
            {
                "threats": threats,
                "count": len(threats),
                "last_updated": iso_now(updated),
                "age_seconds": round(self.ctx.wall() - updated, 3),
                "feed_version": "2024.06.3",
                "sources": ["mitre-atlas", "owasp-llm-top10", "internal-honeypots"],
            }
        )


class HealthOnly(SimService):
    """A compose service the runbook names without endpoints: ``/health`` (and a UI page)."""

    fault_kinds = BASIC_FAULTS

    def __init__(self, name: str, ctx: SimContext, component: str, page: bool = False) -> None:
        super().__init__(name, ctx, f"AEGIS-C {component} (no port in the runbook)")
        self._component = component
        self._page = page

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        if self._page:
            app.router.add_get("/", self._index)

    async def _health(self, request: web.Request) -> web.Response:
        return _health(self, self._component)

    async def _index(self, request: web.Request) -> web.Response:
        html = f"<!doctype html><title>AEGIS-C {self._component}</title><h1>Sign in</h1>"
        return web.Response(text=html, content_type="text/html")


def build(ctx: SimContext) -> list[SimService]:
    return [
        Detector("aegis-c-detector", ctx),
        Quarantine("aegis-c-quarantine", ctx),
        Events("aegis-c-events", ctx),
        Hardware("aegis-c-hardware", ctx),
        ThreatIntel("aegis-c-threat-intel", ctx),
        HealthOnly("aegis-c-fingerprint", ctx, "fingerprint"),
        HealthOnly("aegis-c-console", ctx, "console", page=True),
    ]
