"""Aegis (seed 001) simulated: backend, AI engine, executor and frontend.

Runbook: backend on 3000 (``/api/v1/health``, ``/api/v1/health/ping``), frontend on 3001
(``/`` answers 200 or 307), AI engine ``/health`` (FastAPI), executor ``/health`` or
``/api/health``. Backend health follows the AI engine: when ``aegis-ai-engine`` is down or
unhealthy, ``aiEngine`` reads down and backend health fails, as the runbook warns.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from testbed.sim.faults import DOWN, ERROR, FAULT_KINDS, METRIC, SLOW, STALLED, UNHEALTHY
from testbed.sim.service import SimContext, SimService, iso_now, json_response

logger = logging.getLogger(__name__)

HTTP_BUCKETS = (
    (0.005, 0.08),
    (0.01, 0.22),
    (0.025, 0.48),
    (0.05, 0.71),
    (0.1, 0.88),
    (0.25, 0.97),
    (0.5, 0.992),
    (1.0, 0.998),
    (2.5, 1.0),
    (5.0, 1.0),
)
INFERENCE_BUCKETS = (
    (0.05, 0.10),
    (0.1, 0.35),
    (0.25, 0.82),
    (0.5, 0.96),
    (1.0, 0.995),
    (2.5, 1.0),
    (5.0, 1.0),
)
POLICIES = (
    {
        "id": "1",
        "name": "deny-executor-production",
        "effect": "DENY",
        "action": "*",
        "resource": "deployments",
        "namespace": "production",
        "roles": ["*"],
    },
    {
        "id": "2",
        "name": "allow-restart-staging",
        "effect": "ALLOW",
        "action": "restart",
        "resource": "deployments",
        "namespace": "staging",
        "roles": ["sre", "admin"],
    },
)


class Backend(SimService):
    """Express-style API: health, ping, policies (bearer auth) and ``/metrics``."""

    fault_kinds = frozenset(FAULT_KINDS)
    dependencies = ("database", "redis", "aiEngine")

    def __init__(self, name: str, ctx: SimContext, ai_engine: str) -> None:
        super().__init__(name, ctx, "Aegis backend API (runbook port 3000)")
        self._ai_engine = ai_engine
        self._policies = {policy["id"]: dict(policy) for policy in POLICIES}
        m = self.metrics
        requests = "HTTP requests, by method, route and status code."
        m.counter(
            "http_requests_total",
            requests,
            250_000,
            18.0,
            {"method": "GET", "route": "/api/v1/alerts", "status_code": "200"},
        )
        m.counter(
            "http_requests_total",
            requests,
            90_000,
            6.0,
            {"method": "POST", "route": "/api/v1/policy/evaluate", "status_code": "200"},
        )
        m.counter(
            "http_requests_total",
            requests,
            120,
            0.01,
            {"method": "GET", "route": "/api/v1/alerts", "status_code": "500"},
        )
        m.histogram(
            "http_request_duration_seconds",
            "HTTP request latency.",
            HTTP_BUCKETS,
            340_120,
            24.01,
            0.045,
        )
        m.counter("aegis_rate_limit_hits_total", "Requests refused by the rate limiter.", 340, 0.02)
        m.counter("process_cpu_seconds_total", "Total user and system CPU time.", 5_400, 0.22)
        m.gauge("nodejs_heap_size_used_bytes", "Process heap size used in bytes.", 98_000_000)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/health", self._health)
        app.router.add_get("/api/v1/health/ping", self._ping)
        app.router.add_get("/api/v1/policy", self._list_policies)
        app.router.add_put("/api/v1/policy/{id}", self._put_policy)
        app.router.add_post("/api/v1/policy/evaluate", self._evaluate)
        app.router.add_get("/metrics", self._metrics)

    def dependency_states(self) -> dict[str, str]:
        states = {name: "up" for name in self.dependencies}
        if not self.ctx.peer_serving(self._ai_engine):
            states["aiEngine"] = "down"
        fault = self.unhealthy()
        if fault is not None:
            states[fault.params["dependency"]] = "down"
        return states

    async def _health(self, request: web.Request) -> web.Response:
        states = self.dependency_states()
        info = {name: {"status": "up"} for name, state in states.items() if state == "up"}
        error = {
            name: {"status": "down", "message": f"{name} check failed: connection refused"}
            for name, state in states.items()
            if state == "down"
        }
        body = {
            "status": "error" if error else "ok",
            "info": info,
            "error": error,
            "details": {**info, **error},
            "timestamp": iso_now(self.ctx.wall()),
            "uptime": self.uptime(),
        }
        return json_response(body, status=503 if error else 200)

    async def _ping(self, request: web.Request) -> web.Response:
        return json_response(
            {"status": "ok", "uptime": self.uptime(), "timestamp": iso_now(self.ctx.wall())}
        )

    def _role(self, request: web.Request) -> str | None:
        """``admin`` or ``viewer`` for a valid bearer token, else None."""
        if not self.auth_enforced():
            return "admin"
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        if token == self.ctx.api_key:
            return "admin"
        if token == self.ctx.viewer_token:
            return "viewer"
        return None

    async def _list_policies(self, request: web.Request) -> web.Response:
        if self._role(request) is None:
            return json_response({"error": "Unauthorized"}, status=401)
        policies = list(self._policies.values())
        return json_response({"data": policies, "count": len(policies)})

    async def _put_policy(self, request: web.Request) -> web.Response:
        role = self._role(request)
        if role is None:
            return json_response({"error": "Unauthorized"}, status=401)
        if role != "admin":
            return json_response({"error": "Forbidden: admin role required"}, status=403)
        policy = self._policies.get(request.match_info["id"])
        if policy is None:
            return json_response({"error": "Policy not found"}, status=404)
        try:
            update = await request.json()
        except ValueError:
            return json_response({"error": "Body must be JSON"}, status=400)
        if not isinstance(update, dict):
            return json_response({"error": "Body must be a JSON object"}, status=400)
        policy.update({key: value for key, value in update.items() if key != "id"})
        logger.info("%s: policy %s updated", self.name, policy["id"])
        return json_response({"data": policy})

    async def _evaluate(self, request: web.Request) -> web.Response:
        """Decide an executor action against the policies; evaluation changes nothing."""
        if self._role(request) is None:
            return json_response({"error": "Unauthorized"}, status=401)
        try:
            ask = await request.json()
        except ValueError:
            return json_response({"error": "Body must be JSON"}, status=400)
        if not isinstance(ask, dict):
            return json_response({"error": "Body must be a JSON object"}, status=400)
        for policy in sorted(self._policies.values(), key=lambda p: p["effect"] != "DENY"):
            if _policy_matches(policy, ask):
                decision = policy["effect"]
                return json_response(
                    {"decision": decision, "policy": policy["name"], "executorCalled": False}
                )
        return json_response({"decision": "DENY", "policy": None, "executorCalled": False})

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


def _policy_matches(policy: dict[str, Any], ask: dict[str, Any]) -> bool:
    """A request matches when every policy field is ``*`` or equals the request's value."""
    for field in ("action", "resource", "namespace"):
        if policy[field] != "*" and policy[field] != ask.get(field):
            return False
    return "*" in policy["roles"] or ask.get("role") in policy["roles"]


class AiEngine(SimService):
    """FastAPI-style AI engine: ``/health``, ``/models`` (X-API-Key) and ``/metrics``."""

    fault_kinds = frozenset(FAULT_KINDS)
    dependencies = ("model", "database")

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "Aegis AI engine (FastAPI; port not in the runbook)")
        m = self.metrics
        m.histogram(
            "ai_inference_duration_seconds",
            "Model inference latency.",
            INFERENCE_BUCKETS,
            52_000,
            3.0,
            0.18,
        )
        m.counter(
            "ai_predictions_total",
            "Predictions served, by model.",
            52_000,
            3.0,
            {"model": "severity-classifier"},
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/models", self._models)
        app.router.add_get("/metrics", self._metrics)

    async def _health(self, request: web.Request) -> web.Response:
        fault = self.unhealthy()
        if fault is None:
            return json_response({"status": "healthy", "model_loaded": True, "version": "1.4.2"})
        body: dict[str, Any] = {
            "status": "unhealthy",
            "version": "1.4.2",
            "model_loaded": fault.params["dependency"] != "model",
            "detail": f"{fault.params['dependency']} unavailable",
        }
        return json_response(body, status=503)

    async def _models(self, request: web.Request) -> web.Response:
        if self.auth_enforced() and request.headers.get("X-API-Key") != self.ctx.api_key:
            return json_response({"detail": "Invalid or missing API key"}, status=401)
        models = [
            {"name": "severity-classifier", "version": "1.4.2", "loaded": True},
            {"name": "remediation-recommender", "version": "0.9.0", "loaded": True},
        ]
        return json_response({"models": models})

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


class Executor(SimService):
    """Executor: ``/health`` and ``/api/health`` (the runbook allows either), ``/metrics``."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, STALLED, ERROR})
    dependencies = ("kubernetes", "database")

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "Aegis executor (port not in the runbook)")
        actions = "Executor actions, by action type and outcome."
        m = self.metrics
        m.counter(
            "executor_actions_total",
            actions,
            412,
            0.002,
            {"action_type": "restart", "status": "success"},
        )
        m.counter(
            "executor_actions_total",
            actions,
            96,
            0.0005,
            {"action_type": "scale", "status": "success"},
        )
        m.counter(
            "executor_actions_total",
            actions,
            3,
            0.0,
            {"action_type": "restart", "status": "failed"},
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/api/health", self._health)
        app.router.add_get("/metrics", self._metrics)

    async def _health(self, request: web.Request) -> web.Response:
        states = {"kubernetes": "connected", "database": "connected"}
        fault = self.unhealthy()
        if fault is not None:
            states[fault.params["dependency"]] = "disconnected"
        status = "error" if fault else "ok"
        body = {"status": status, **states, "timestamp": iso_now(self.ctx.wall())}
        return json_response(body, status=503 if fault else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


class Frontend(SimService):
    """Next.js-style frontend: ``/`` redirects (307) to ``/login`` (200); ``/metrics``."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, METRIC, STALLED, ERROR})

    def __init__(self, name: str, ctx: SimContext) -> None:
        super().__init__(name, ctx, "Aegis frontend (runbook port 3001)")
        self.metrics.counter(
            "http_requests_total",
            "HTTP requests, by status code.",
            61_000,
            4.0,
            {"status_code": "200"},
        )
        self.metrics.counter(
            "http_requests_total",
            "HTTP requests, by status code.",
            9_000,
            0.6,
            {"status_code": "307"},
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._root)
        app.router.add_get("/login", self._login)
        app.router.add_get("/metrics", self._metrics)

    def _unavailable(self) -> web.Response | None:
        if self.unhealthy() is None:
            return None
        html = "<!doctype html><title>503</title><h1>503 Service Unavailable</h1>"
        return web.Response(text=html, content_type="text/html", status=503)

    async def _root(self, request: web.Request) -> web.Response:
        unavailable = self._unavailable()
        if unavailable is not None:
            return unavailable
        return web.Response(status=307, headers={"Location": "/login"})

    async def _login(self, request: web.Request) -> web.Response:
        unavailable = self._unavailable()
        if unavailable is not None:
            return unavailable
        html = "<!doctype html><html><head><title>Aegis</title></head><body>Sign in</body></html>"
        return web.Response(text=html, content_type="text/html")

    async def _metrics(self, request: web.Request) -> web.Response:
        return self.metrics_response()


def build(ctx: SimContext) -> list[SimService]:
    return [
        Backend("aegis-backend", ctx, ai_engine="aegis-ai-engine"),
        AiEngine("aegis-ai-engine", ctx),
        Executor("aegis-executor", ctx),
        Frontend("aegis-frontend", ctx),
    ]
