"""The simulator stack: every service on its own loopback port, one thread, one event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from testbed.sim.catalog import build_services
from testbed.sim.control import (
    HOST,
    SHUTDOWN_TIMEOUT_S,
    Controller,
    Endpoint,
    bind_socket,
    build_control_app,
)
from testbed.sim.faults import DOWN, fault_from_spec
from testbed.sim.service import SimContext

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
T = TypeVar("T")
FaultSpecs = Mapping[str, Sequence[Mapping[str, Any]]]


class SimStack:
    """A running set of simulators; build it with :func:`start_stack`.

    >>> with start_stack() as stack:  # doctest: +SKIP
    ...     stack.set_fault("anomaly-detector", "stalled")
    ...     stack.urls["anomaly-detector"]
    'http://127.0.0.1:41234'
    """

    def __init__(self, api_key: str, ports: Mapping[str, int] | None = None) -> None:
        self.api_key = api_key
        self.context = SimContext(api_key=api_key)
        services = build_services(self.context)
        ports = dict(ports or {})
        unknown = sorted(set(ports) - set(services))
        if unknown:
            raise ValueError(f"ports given for unknown services: {', '.join(unknown)}")
        self._endpoints: dict[str, Endpoint] = {}
        try:
            for name, service in services.items():
                self._endpoints[name] = Endpoint(service, ports.get(name, 0))
            self._control_socket = bind_socket(ports.get("control", 0))
        except OSError:
            for endpoint in self._endpoints.values():
                endpoint.release()
            raise
        self._controller = Controller(self._endpoints)
        self._control_runner: web.AppRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="vigil-sim", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopped = False
        self.urls: dict[str, str] = {name: ep.url for name, ep in self._endpoints.items()}
        self.control_url = f"http://{HOST}:{self._control_socket.getsockname()[1]}"

    # -- lifecycle ---------------------------------------------------------------------
    def _start(self, faults: FaultSpecs | None) -> None:
        for name, specs in (faults or {}).items():
            for spec in specs:
                kind, params = fault_from_spec(spec)
                self._controller.add(name, self._controller.validate(name, kind, params))
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError(f"simulator stack did not start within {START_TIMEOUT_S:g} s")
        if self._startup_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise RuntimeError("simulator stack failed to start") from self._startup_error
        logger.info("simulator stack up: %d services, control %s", len(self.urls), self.control_url)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._startup())
        except Exception as exc:  # surfaced to the starting thread by _start
            self._startup_error = exc
        self._ready.set()
        if self._startup_error is None:
            self._loop.run_forever()
        self._loop.run_until_complete(self._shutdown())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()

    async def _startup(self) -> None:
        for endpoint in self._endpoints.values():
            if DOWN not in endpoint.service.faults:
                await endpoint.start()
        runner = web.AppRunner(
            build_control_app(self._controller),
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        await web.SockSite(runner, self._control_socket).start()
        self._control_runner = runner

    async def _shutdown(self) -> None:
        if self._control_runner is not None:
            await self._control_runner.cleanup()
        else:
            self._control_socket.close()
        for endpoint in self._endpoints.values():
            await endpoint.stop(keep_port=False)

    def stop(self) -> None:
        """Stop every simulator and the loop thread; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.ident is None:  # never started: only sockets to give back
            for endpoint in self._endpoints.values():
                endpoint.release()
            self._control_socket.close()
            self._loop.close()
        elif self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                raise RuntimeError("simulator thread did not stop in time")
        logger.info("simulator stack stopped")

    def __enter__(self) -> SimStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------
    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._stopped or not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("simulator stack is not running")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("call the stack's Python API from outside its loop thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(CALL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("simulator control call timed out") from None

    def set_fault(self, service: str, kind: str, **params: Any) -> None:
        """Put ``service`` into fault ``kind`` (see README); raises ``FaultError`` if invalid."""
        self._call(self._controller.set_fault(service, kind, params))

    def clear_faults(self, service: str | None = None) -> None:
        """Make ``service`` (or every service) healthy again; downed services restart."""
        self._call(self._controller.clear(service))

    def faults(self) -> dict[str, list[dict[str, Any]]]:
        """Active faults by service, as ``{"kind": ..., "params": {...}}`` dicts."""
        return self._call(_value(self._controller.snapshot))

    def calls(self, service: str) -> list[dict[str, Any]]:
        """Remediation calls ``service`` received (method, path, query, body, at)."""
        return self._call(_value(lambda: list(self._controller.service(service).calls)))

    @property
    def tokens(self) -> dict[str, str]:
        """Bearer tokens the Aegis backend accepts, by role."""
        return {"admin": self.api_key, "viewer": self.context.viewer_token}

    def env(self, prefix: str = "VIGIL_SIM_") -> dict[str, str]:
        """``VIGIL_SIM_<SERVICE>_URL`` variables (and the control URL) for environment YAML."""
        variables = {f"{prefix}{_env_name(name)}_URL": url for name, url in self.urls.items()}
        variables[f"{prefix}CONTROL_URL"] = self.control_url
        return variables


async def _value(getter: Callable[[], T]) -> T:
    return getter()


def _env_name(service: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", service.upper())


def start_stack(
    faults: FaultSpecs | None = None,
    api_key: str = "demo-key",
    ports: Mapping[str, int] | None = None,
) -> SimStack:
    """Start every simulator on free loopback ports (or ``ports``) with initial ``faults``.

    ``faults`` maps a service name to fault specs ``{"kind": ..., "params": {...}}``; a
    ``down`` service starts with its port reserved and refusing connections.
    """
    stack = SimStack(api_key, ports)
    try:
        stack._start(faults)
    except BaseException:
        stack.stop()
        raise
    return stack
