"""Health endpoints of Prometheus and Grafana as real ones answer them (simulation).

Real Prometheus is installed by the testbed for PromQL; this simulation only stands in for its
``/-/healthy`` and ``/-/ready`` in environments that need a Prometheus that can be faulted.
Grafana cannot be installed here: its health, search, dashboard and datasource-health answers
follow Grafana 10's API shapes.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from aiohttp import web

from testbed.sim.faults import AUTH_OPEN, DOWN, ERROR, SLOW, UNHEALTHY
from testbed.sim.service import SimContext, SimService, json_response

logger = logging.getLogger(__name__)

GRAFANA_VERSION = "10.4.2"
GRAFANA_COMMIT = "701c851be7"
DASHBOARDS = (
    {"id": 1, "uid": "system-overview", "title": "System Overview", "tags": ["aureus"]},
    {"id": 2, "uid": "aegis-overview", "title": "Aegis Overview", "tags": ["aegis"]},
)
DATASOURCES = {"prometheus": ("Prometheus", "prometheus"), "loki": ("Loki", "loki")}


class Prometheus(SimService):
    """``/-/healthy`` and ``/-/ready`` with Prometheus' exact bodies."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, ERROR})

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "Prometheus server health (simulated)")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/-/healthy", self._healthy)
        app.router.add_get("/-/ready", self._ready)

    async def _healthy(self, request: web.Request) -> web.Response:
        if self.unhealthy() is not None:
            return web.Response(text="Prometheus Server is not Healthy.\n", status=503)
        return web.Response(text="Prometheus Server is Healthy.\n")

    async def _ready(self, request: web.Request) -> web.Response:
        if self.unhealthy() is not None:
            return web.Response(text="Service Unavailable", status=503)
        return web.Response(text="Prometheus Server is Ready.\n")


class Grafana(SimService):
    """``/api/health`` (open) plus search, dashboards and datasource health (authenticated).

    Credentials: basic auth ``admin:<api_key>`` or ``Authorization: Bearer <api_key>``.
    The Loki datasource's health follows the ``loki`` simulator's state.
    """

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, AUTH_OPEN, ERROR})
    dependencies = ("database",)

    def __init__(self, name: str, ctx: SimContext, loki: str, prometheus: str) -> None:
        super().__init__(name, ctx, "Grafana (simulated API)")
        self._peers = {"loki": loki, "prometheus": prometheus}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/health", self._health)
        app.router.add_get("/login", self._login)
        app.router.add_get("/api/search", self._search)
        app.router.add_get("/api/dashboards/uid/{uid}", self._dashboard)
        app.router.add_get("/api/datasources/uid/{uid}/health", self._datasource_health)

    async def _health(self, request: web.Request) -> web.Response:
        failing = self.unhealthy() is not None
        body = {
            "commit": GRAFANA_COMMIT,
            "database": "failing" if failing else "ok",
            "version": GRAFANA_VERSION,
        }
        return json_response(body, status=503 if failing else 200)

    async def _login(self, request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Grafana</title>", content_type="text/html")

    def _authorised(self, request: web.Request) -> bool:
        if not self.auth_enforced():
            return True
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return credentials == self.ctx.api_key
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"admin:{self.ctx.api_key}"
        return False

    def _unauthorised(self) -> web.Response:
        return json_response({"message": "Unauthorized"}, status=401)

    async def _search(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised()
        query = request.query.get("query", "").lower()
        hits = [
            {
                **dashboard,
                "type": "dash-db",
                "url": f"/d/{dashboard['uid']}/{str(dashboard['title']).lower().replace(' ', '-')}",
            }
            for dashboard in DASHBOARDS
            if query in str(dashboard["title"]).lower()
        ]
        return json_response(hits)

    async def _dashboard(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised()
        uid = request.match_info["uid"]
        dashboard = next((item for item in DASHBOARDS if item["uid"] == uid), None)
        if dashboard is None:
            return json_response({"message": "Dashboard not found"}, status=404)
        body: dict[str, Any] = {
            "dashboard": {**dashboard, "panels": [{"id": 1, "title": "Error rate"}], "version": 3},
            "meta": {"slug": uid, "url": f"/d/{uid}", "folderTitle": "General"},
        }
        return json_response(body)

    async def _datasource_health(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised()
        uid = request.match_info["uid"]
        if uid not in DATASOURCES:
            return json_response({"message": "Data source not found"}, status=404)
        name, _ = DATASOURCES[uid]
        if self.ctx.peer_serving(self._peers[uid]):
            message = "Data source successfully connected."
            return json_response({"status": "OK", "message": message})
        message = f"Unable to connect with {name}. Please inspect the server logs."
        return json_response({"status": "ERROR", "message": message}, status=400)


def build(ctx: SimContext) -> list[SimService]:
    return [Prometheus("prometheus", ctx), Grafana("grafana", ctx, "loki", "prometheus")]
