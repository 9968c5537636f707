"""Anomaly Detector (seed 004) simulated: ``/health``, Prometheus ``/metrics``, ``/admin/*``.

Metric names are the runbook's own (``anomaly_detector_logs_processed_total``, the three
``*_queue_size`` gauges, ``processing_duration`` quantiles, ``cpu_usage``/``memory_usage``,
``alerts_generated``/``delivered``/``failed``, ``processing_rate``, ``learning_model_health``).
Counters advance while healthy, so "Processing is active" holds; ``stalled`` stops them while
``/health`` still says healthy, which is exactly the case the runbook's two-sample check is for.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from testbed.sim.faults import DOWN, ERROR, METRIC, SLOW, STALLED, UNHEALTHY
from testbed.sim.service import SimContext, SimService, iso_now, json_response

logger = logging.getLogger(__name__)

PREFIX = "anomaly_detector_"
PROCESSED_PER_SECOND = 2_500.0
# Admin endpoints of the runbook's mitigation steps and the metrics each one relieves.
ADMIN_RELIEF = {
    "enable-backpressure": (
        f"{PREFIX}memory_usage_percent",
        f"{PREFIX}input_queue_size",
        f"{PREFIX}processing_queue_size",
        f"{PREFIX}alert_queue_size",
    ),
    "set-workers": (f"{PREFIX}memory_usage_percent",),
    "disable-tier4": (f"{PREFIX}cpu_usage_percent",),
    "reduce-learning-rate": (f"{PREFIX}cpu_usage_percent",),
    "set-batch-size": (f"{PREFIX}cpu_usage_percent",),
}


class AnomalyDetector(SimService):
    """The systemd daemon's HTTP side (runbook port 8080)."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, STALLED, ERROR})
    dependencies = ("processing_pipeline", "alert_delivery")

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "Anomaly Detector daemon (runbook port 8080)")
        m = self.metrics
        self._processed = m.counter(
            f"{PREFIX}logs_processed_total", "Log lines processed.", 1_250_000, PROCESSED_PER_SECOND
        )
        m.counter(f"{PREFIX}processing_errors_total", "Log lines that failed processing.", 375, 0.5)
        m.gauge(f"{PREFIX}input_queue_size", "Entries waiting in the input queue.", 1_200)
        m.gauge(f"{PREFIX}processing_queue_size", "Entries waiting for analysis.", 250)
        m.gauge(f"{PREFIX}alert_queue_size", "Alerts waiting for delivery.", 3)
        m.summary(
            f"{PREFIX}processing_duration_seconds",
            "Per-batch processing time.",
            {0.5: 0.045, 0.95: 0.18, 0.99: 0.42},
            1_250_000,
            PROCESSED_PER_SECOND,
            0.06,
        )
        m.gauge(
            f"{PREFIX}processing_rate",
            "Log lines processed per second (1 min average).",
            lambda: self._processed.rate,
        )
        m.gauge(f"{PREFIX}cpu_usage_percent", "Process CPU usage in percent.", 35.0)
        m.gauge(f"{PREFIX}memory_usage_percent", "Process memory usage in percent of limit.", 52.0)
        m.counter(f"{PREFIX}alerts_generated_total", "Alerts generated.", 1_840, 0.02)
        m.counter(f"{PREFIX}alerts_delivered_total", "Alerts delivered to receivers.", 1_838, 0.02)
        m.counter(f"{PREFIX}alerts_failed_total", "Alerts whose delivery failed.", 2, 0.0)
        m.gauge(
            f"{PREFIX}learning_model_health", "Statistical model health (1 healthy, 0 not).", 1.0
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/admin/{action}", self._admin)

    async def _health(self, request: web.Request) -> web.Response:
        fault = self.unhealthy()
        body: dict[str, Any] = {"status": "healthy", "timestamp": iso_now(self.ctx.wall())}
        if fault is not None:
            body["status"] = "unhealthy"
            body["reason"] = f"{fault.params['dependency']} failing"
        return json_response(body, status=503 if fault else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()

    async def _admin(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action not in ADMIN_RELIEF:
            return json_response({"error": f"unknown admin action {action!r}"}, status=404)
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return json_response({"error": "body must be JSON"}, status=400)
        self.record_call(request, body)
        relieved = set(ADMIN_RELIEF[action])
        removed = self.faults.remove(
            lambda fault: fault.kind == METRIC and fault.params["name"] in relieved
        )
        if removed:
            self.on_faults_changed()
        return json_response({"status": "ok", "action": action, "applied": body})


def build(ctx: SimContext) -> list[SimService]:
    return [AnomalyDetector("anomaly-detector", ctx)]
