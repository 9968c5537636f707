"""Aureus Sentinel (seed 003) simulated: the public API and the bridge/aureus-os/openclaw pods.

The runbook checks ``https://api.aureus-sentinel.com/health`` and judges error rate (< 1%)
and latency (p95) through Prometheus; each component therefore serves ``/metrics`` with
``http_requests_total{service,code}`` and ``http_request_duration_seconds`` that a real
Prometheus can scrape. TLS is not simulated here: put the testbed's nginx in front.
"""

from __future__ import annotations

import logging

from aiohttp import web

from testbed.sim.faults import DOWN, ERROR, METRIC, SLOW, STALLED, UNHEALTHY
from testbed.sim.service import SimContext, SimService, iso_now, json_response

logger = logging.getLogger(__name__)

COMPONENTS = {"bridge": 120.0, "aureus-os": 80.0, "openclaw": 60.0}  # requests per second
ERROR_FRACTION = 0.001
TOTAL_AT_START = 3_600_000
LATENCY_BUCKETS = (
    (0.005, 0.05),
    (0.01, 0.15),
    (0.025, 0.38),
    (0.05, 0.62),
    (0.1, 0.83),
    (0.25, 0.96),
    (0.5, 0.99),
    (1.0, 0.998),
    (2.5, 1.0),
    (5.0, 1.0),
    (10.0, 1.0),
)
VERSION = "1.4.0"


class Component(SimService):
    """One Aureus deployment: ``/health`` and ``/metrics``."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, STALLED, ERROR})
    dependencies = ("database", "redis")

    def __init__(self, name: str, ctx: SimContext, component: str, rate: float) -> None:
        super().__init__(name, ctx, f"Aureus {component} deployment (namespace aureus)")
        self.component = component
        m = self.metrics
        requests = "HTTP requests, by service and status code."
        ok_rate, error_rate = rate * (1 - ERROR_FRACTION), rate * ERROR_FRACTION
        m.counter(
            "http_requests_total",
            requests,
            TOTAL_AT_START * (1 - ERROR_FRACTION),
            ok_rate,
            {"service": component, "code": "200"},
        )
        m.counter(
            "http_requests_total",
            requests,
            TOTAL_AT_START * ERROR_FRACTION,
            error_rate,
            {"service": component, "code": "500"},
        )
        m.histogram(
            "http_request_duration_seconds",
            "HTTP request latency.",
            LATENCY_BUCKETS,
            TOTAL_AT_START,
            rate,
            0.06,
            {"service": component},
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)

    async def _health(self, request: web.Request) -> web.Response:
        fault = self.unhealthy()
        if fault is None:
            return json_response({"status": "ok", "service": self.component})
        body = {
            "status": "unhealthy",
            "service": self.component,
            "error": f"{fault.params['dependency']} unreachable",
        }
        return json_response(body, status=503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


class PublicApi(SimService):
    """``/health`` of the public API: healthy only when every component is."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, ERROR})
    dependencies = ("database",)

    def __init__(self, name: str, ctx: SimContext, components: dict[str, str]) -> None:
        super().__init__(name, ctx, "Aureus public API (api.aureus-sentinel.com)")
        self._components = components  # component -> service name

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)

    async def _health(self, request: web.Request) -> web.Response:
        services = {
            component: "up" if self.ctx.peer_serving(service) else "down"
            for component, service in self._components.items()
        }
        fault = self.unhealthy()
        if fault is not None:
            services[fault.params["dependency"]] = "down"
        healthy = all(state == "up" for state in services.values())
        body = {
            "status": "healthy" if healthy else "unhealthy",
            "version": VERSION,
            "timestamp": iso_now(self.ctx.wall()),
            "services": services,
        }
        return json_response(body, status=200 if healthy else 503)


def build(ctx: SimContext) -> list[SimService]:
    names = {component: f"aureus-{component.removeprefix('aureus-')}" for component in COMPONENTS}
    components: list[SimService] = [
        Component(names[component], ctx, component, rate) for component, rate in COMPONENTS.items()
    ]
    return [PublicApi("aureus-api", ctx, names), *components]
