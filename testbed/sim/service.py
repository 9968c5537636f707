"""The base of every simulated service: its faults, metrics, JSON fields and aiohttp app."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from testbed.sim.faults import (
    AUTH_OPEN,
    DOWN,
    ERROR,
    FAULT_KINDS,
    METRIC,
    SLOW,
    STALLED,
    UNHEALTHY,
    Fault,
    FaultSet,
    FaultSupport,
)
from testbed.sim.metrics import TEXT_CONTENT_TYPE, MetricRegistry, Pin, RateOverride

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SimContext:
    """What every service of one stack shares: credentials, clocks and its peers."""

    api_key: str
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    peers: dict[str, SimService] = field(default_factory=dict)

    @property
    def viewer_token(self) -> str:
        """A valid bearer token without the admin role (Aegis backend)."""
        return f"viewer-{self.api_key}"

    def peer_serving(self, name: str) -> bool:
        """Whether peer ``name`` would answer its health check successfully."""
        peer = self.peers.get(name)
        return peer is not None and peer.serving()


def iso_now(wall: float) -> str:
    """An RFC 3339 UTC timestamp with milliseconds, as most services print them."""
    return (
        datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class SimService(ABC):
    """One simulated HTTP service; subclasses add routes, metrics and JSON fields.

    Faults are read by the request path: ``slow`` and ``error`` by the middleware, ``down``
    by the stack (it closes the listening socket), the others by the handlers.
    """

    fault_kinds: frozenset[str] = frozenset(FAULT_KINDS) - {AUTH_OPEN}
    dependencies: tuple[str, ...] = ()
    gpu_count = 0

    def __init__(self, name: str, ctx: SimContext, summary: str) -> None:
        self.name = name
        self.ctx = ctx
        self.summary = summary
        self.faults = FaultSet()
        self.metrics = MetricRegistry(ctx.clock)
        self.calls: list[dict[str, Any]] = []
        self.started_at = ctx.clock()
        self.fields: dict[str, float] = {}
        self._frozen_wall: float | None = None

    # -- to override -------------------------------------------------------------------
    @abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the service's endpoints on ``app``."""

    def on_faults_changed(self) -> None:
        """React to a changed fault set (counters stop or change rate)."""
        overrides = [
            RateOverride(fault.params["name"], fault.params.get("labels", {}), fault.params["rate"])
            for fault in self.faults.all(METRIC)
            if "rate" in fault.params
        ]
        stalled = STALLED in self.faults
        self.metrics.apply_rates(stalled, overrides)
        if not stalled:
            self._frozen_wall = None
        elif self._frozen_wall is None:
            self._frozen_wall = self.ctx.wall()

    def now_wall(self) -> float:
        """Wall time as the service's data sees it: frozen while ``stalled``."""
        return self.ctx.wall() if self._frozen_wall is None else self._frozen_wall

    # -- shared behaviour --------------------------------------------------------------
    def support(self) -> FaultSupport:
        value_names = self.metrics.sample_names() | set(self.fields)
        rate_names = self.metrics.rate_names()
        return FaultSupport(
            kinds=self.fault_kinds,
            metric_names=frozenset(value_names | rate_names),
            value_names=frozenset(value_names),
            counter_names=frozenset(rate_names),
            dependencies=self.dependencies,
            gpu_count=self.gpu_count,
        )

    def serving(self) -> bool:
        """Whether a health probe would pass (no down, error or unhealthy fault)."""
        return not any(kind in self.faults for kind in (DOWN, ERROR, UNHEALTHY))

    def unhealthy(self) -> Fault | None:
        return self.faults.get(UNHEALTHY)

    def uptime(self) -> float:
        return round(self.ctx.clock() - self.started_at, 3)

    def field(self, name: str, gpu: int | None = None, healthy: float | None = None) -> float:
        """A JSON field's value: a matching ``metric`` fault's value, else its healthy value.

        A fault without ``gpu`` applies to every GPU; one with ``gpu`` only to that GPU.
        """
        for fault in reversed(self.faults.all(METRIC)):
            params = fault.params
            if params["name"] == name and "value" in params and params.get("gpu", gpu) == gpu:
                return float(params["value"])
        return self.fields[name] if healthy is None else healthy

    def pins(self) -> list[Pin]:
        return [
            Pin(fault.params["name"], fault.params.get("labels", {}), fault.params["value"])
            for fault in self.faults.all(METRIC)
            if "value" in fault.params
        ]

    def metrics_response(self) -> web.Response:
        return web.Response(
            body=self.metrics.render(self.pins()).encode(),
            headers={"Content-Type": TEXT_CONTENT_TYPE},
        )

    def auth_enforced(self) -> bool:
        return AUTH_OPEN not in self.faults

    def record_call(self, request: web.Request, body: Any = None) -> dict[str, Any]:
        """Remember a call to a remediation endpoint so tests can see it happened."""
        call = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "body": body,
            "at": iso_now(self.ctx.wall()),
        }
        self.calls.append(call)
        logger.info("%s: remediation call %s %s", self.name, request.method, request.path_qs)
        return call

    def build_app(self) -> web.Application:
        """A fresh application (one per start: a stopped aiohttp app cannot restart)."""
        app = web.Application(middlewares=[_fault_middleware(self)])
        self.add_routes(app)
        return app


def _fault_applies(fault: Fault, path: str) -> bool:
    prefix = fault.params.get("path")
    return prefix is None or path.startswith(prefix)


def _fault_middleware(service: SimService) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        slow = service.faults.get(SLOW)
        if slow is not None and _fault_applies(slow, request.path):
            await asyncio.sleep(slow.params["seconds"])
        error = service.faults.get(ERROR)
        if error is not None and _fault_applies(error, request.path):
            return web.json_response(
                {"error": "Internal Server Error", "service": service.name},
                status=error.params["status"],
            )
        return await handler(request)

    return middleware


def json_response(data: Mapping[str, Any] | list[Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
