"""Start a chosen set of testbed services together, and stop them all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from testbed.services.alertmanager import AlertmanagerServer
from testbed.services.errors import ServiceStartError
from testbed.services.exporters import (
    BlackboxExporterServer,
    NodeExporterServer,
    PushgatewayServer,
)
from testbed.services.moto_server import MotoServer
from testbed.services.nginx import NginxServer
from testbed.services.postgres import PostgresServer
from testbed.services.prometheus import PrometheusServer
from testbed.services.redis_server import RedisServer
from testbed.services.sshd import SshServer
from testbed.services.tls import TestCA

logger = logging.getLogger(__name__)


class Service(Protocol):
    """What every testbed server offers, whether a process or in-process."""

    host: str
    port: int
    startup_seconds: float | None

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def is_running(self) -> bool: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...


Builder = Callable[[Path, dict[str, Any]], Service]


def _nginx(workdir: Path, options: dict[str, Any]) -> Service:
    ca = options.pop("ca", None) or TestCA.create()
    return NginxServer(workdir, ca, **options)


def _prometheus(workdir: Path, options: dict[str, Any]) -> Service:
    return PrometheusServer(workdir, options.pop("scrape_targets", {}), **options)


BUILDERS: dict[str, Builder] = {
    "postgres": lambda workdir, options: PostgresServer(workdir, **options),
    "redis": lambda workdir, options: RedisServer(workdir, **options),
    "prometheus": _prometheus,
    "alertmanager": lambda workdir, options: AlertmanagerServer(workdir, **options),
    "pushgateway": lambda workdir, options: PushgatewayServer(workdir, **options),
    "node_exporter": lambda workdir, options: NodeExporterServer(workdir, **options),
    "blackbox_exporter": lambda workdir, options: BlackboxExporterServer(workdir, **options),
    "nginx": _nginx,
    "sshd": lambda workdir, options: SshServer(workdir, **options),
    "moto": lambda workdir, options: MotoServer(**options),
}

# Prometheus's first scrape waits on a fixed 5 s tick: start it first to overlap the rest.
_START_FIRST = ("prometheus",)


class ServiceStack:
    """Several services under one workdir, started concurrently, stopped together.

    Ports are chosen when the stack is built, before anything starts, so one service's
    options can name another's address::

        with ServiceStack(tmp_path, {"redis": {"maxmemory": "1mb"}, "postgres": {}}) as stack:
            stack["redis"].port
    """

    def __init__(
        self, workdir: Path, services: Mapping[str, Mapping[str, Any]] | Iterable[str]
    ) -> None:
        wanted = services if isinstance(services, Mapping) else {name: {} for name in services}
        unknown = sorted(set(wanted) - set(BUILDERS))
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {sorted(BUILDERS)}")
        ordered = sorted(wanted, key=lambda name: name not in _START_FIRST)
        self.servers: dict[str, Service] = {
            name: BUILDERS[name](Path(workdir) / name, dict(wanted[name])) for name in ordered
        }

    def __getitem__(self, name: str) -> Any:
        return self.servers[name]

    def start(self) -> Self:
        """Start every service in its own thread; on any failure stop all and raise."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.servers))) as pool:
            futures = {name: pool.submit(server.start) for name, server in self.servers.items()}
        failures = [_failure(name, future) for name, future in futures.items()]
        errors = [error for error in failures if error is not None]
        if errors:
            self.stop()
            reasons = "; ".join(f"{error.service}: {error.reason}" for error in errors)
            raise ServiceStartError("stack", reasons, errors[0].log_tail)
        return self

    def stop(self) -> None:
        """Stop every service, in reverse start order; one failing stop does not skip others."""
        for name, server in reversed(self.servers.items()):
            try:
                server.stop()
            except OSError:
                logger.exception("stopping %s failed", name)

    def startup_seconds(self) -> dict[str, float | None]:
        """How long each service took to get ready at its last start."""
        return {name: server.startup_seconds for name, server in self.servers.items()}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _failure(name: str, future: Future[Any]) -> ServiceStartError | None:
    error = future.exception()
    if error is None:
        return None
    if isinstance(error, ServiceStartError):
        return error
    return ServiceStartError(name, f"{type(error).__name__}: {error}")
