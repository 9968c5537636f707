"""Fault control of a running stack: the in-loop controller and its HTTP interface.

HTTP (on the stack's separate control port)::

    GET    /services                 {"aegis-c-detector": "http://127.0.0.1:PORT", ...}
    GET    /faults                   {"<service>": [{"kind": ..., "params": {...}}], ...}
    POST   /faults/{service}         {"kind": ..., "params": {...}} -> 200, its faults
    DELETE /faults/{service}         -> 204 (the service is healthy again; a downed one restarts)
    DELETE /faults                   -> 204 (every service)
    GET    /calls/{service}          remediation calls the service received
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from testbed.sim.faults import DOWN, Fault, FaultError, fault_from_spec, validate_fault
from testbed.sim.service import SimService

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
SHUTDOWN_TIMEOUT_S = 0.25


def bind_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound (not listening) on loopback: it holds the port, refuses connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


class Endpoint:
    """One service's port and aiohttp runner; it can go down (refuse connections) and return."""

    def __init__(self, service: SimService, port: int = 0) -> None:
        self.service = service
        self._reserved: socket.socket | None = bind_socket(port)
        self.port: int = self._reserved.getsockname()[1]
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        sock = self._reserved if self._reserved is not None else bind_socket(self.port)
        self._reserved = None
        runner = web.AppRunner(
            self.service.build_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self, keep_port: bool = True) -> None:
        """Close the listener and every open connection; keep the port reserved if asked."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if keep_port and self._reserved is None:
            self._reserved = bind_socket(self.port)
        if not keep_port and self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    def release(self) -> None:
        """Give the reserved port back (only for an endpoint that never started)."""
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None


class Controller:
    """Applies faults to services; runs on the stack's event loop."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

    def service(self, name: str) -> SimService:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise FaultError(f"unknown service {name!r}; known: {', '.join(self.endpoints)}")
        return endpoint.service

    def validate(self, name: str, kind: str, params: Mapping[str, Any]) -> Fault:
        service = self.service(name)
        return validate_fault(name, kind, params, service.support())

    def add(self, name: str, fault: Fault) -> None:
        """Record a validated fault (before start, or from the loop)."""
        service = self.service(name)
        service.faults.add(fault)
        service.on_faults_changed()
        logger.info("fault set: %s %s %s", name, fault.kind, dict(fault.params) or "")

    async def set_fault(self, name: str, kind: str, params: Mapping[str, Any]) -> Fault:
        fault = self.validate(name, kind, params)
        self.add(name, fault)
        if fault.kind == DOWN:
            await self.endpoints[name].stop()
        return fault

    async def clear(self, name: str | None = None) -> None:
        names: Iterable[str] = self.endpoints if name is None else [self.service(name).name]
        for each in names:
            service = self.endpoints[each].service
            if service.faults:
                service.faults.clear()
                service.on_faults_changed()
                logger.info("faults cleared: %s", each)
            await self.endpoints[each].start()

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [fault.as_dict() for fault in endpoint.service.faults.all()]
            for name, endpoint in self.endpoints.items()
        }


def build_control_app(controller: Controller) -> web.Application:
    """The HTTP control interface for ``controller``."""

    async def services(request: web.Request) -> web.Response:
        return web.json_response({name: ep.url for name, ep in controller.endpoints.items()})

    async def faults(request: web.Request) -> web.Response:
        return web.json_response(controller.snapshot())

    async def set_fault(request: web.Request) -> web.Response:
        name = request.match_info["service"]
        try:
            spec = await request.json()
            kind, params = fault_from_spec(spec)
            await controller.set_fault(name, kind, params)
        except json.JSONDecodeError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        except FaultError as exc:
            status = 404 if name not in controller.endpoints else 400
            return web.json_response({"error": str(exc)}, status=status)
        return web.json_response(controller.snapshot()[name])

    async def clear_service(request: web.Request) -> web.Response:
        name = request.match_info["service"]
        if name not in controller.endpoints:
            return web.json_response({"error": f"unknown service {name!r}"}, status=404)
        await controller.clear(name)
        return web.Response(status=204)

    async def clear_all(request: web.Request) -> web.Response:
        await controller.clear()
        return web.Response(status=204)

    async def calls(request: web.Request) -> web.Response:
        name = request.match_info["service"]
        if name not in controller.endpoints:
            return web.json_response({"error": f"unknown service {name!r}"}, status=404)
        return web.json_response(controller.endpoints[name].service.calls)

    app = web.Application()
    app.router.add_get("/services", services)
    app.router.add_get("/faults", faults)
    app.router.add_post("/faults/{service}", set_fault)
    app.router.add_delete("/faults/{service}", clear_service)
    app.router.add_delete("/faults", clear_all)
    app.router.add_get("/calls/{service}", calls)
    return app
