"""Unix-socket front of the simulated Docker Engine and its handle, ``DockerEngineSim``.

This is a simulation: no Docker daemon runs here. It speaks the Engine API over a Unix
socket, the way dockerd does on /var/run/docker.sock, so docker-py talks to it unchanged.

Example::

    sim = start_docker_engine(Path("/tmp/vigil-dk/docker.sock"), "unhealthy")
    client = docker.DockerClient(base_url=sim.base_url, timeout=5)
    client.containers.list(filters={"label": "com.docker.compose.project=aegis-c"})
"""

from __future__ import annotations

import logging
import os
import socketserver
import stat
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any

from testbed.docker_engine.engine import ContainerAction, DockerEngine, EngineRequest
from testbed.docker_engine.scenario import ContainerSpec, load_scenario

logger = logging.getLogger(__name__)

_MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes including the terminating NUL
_IDLE_CONNECTION_TIMEOUT_S = 30.0


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, socket_path: str, engine: DockerEngine) -> None:
        self.engine = engine
        super().__init__(socket_path, _EngineRequestHandler)


class _EngineRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_CONNECTION_TIMEOUT_S
    server: _UnixHttpServer

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # request bodies (restart has none) are not needed
        response = self.server.engine.dispatch(EngineRequest(self.command, path, query))
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 304:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)

    do_GET = _serve
    do_HEAD = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def address_string(self) -> str:
        return "unix-socket"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("docker-sim %s", format % args)


class DockerEngineSim:
    """A running simulated Docker Engine listening on a Unix socket."""

    def __init__(self, socket_path: Path, scenario: str | Mapping[str, Any] = "healthy") -> None:
        self.socket_path = Path(socket_path)
        encoded = os.fsencode(self.socket_path)
        if len(encoded) > _MAX_SOCKET_PATH_BYTES:
            raise ValueError(
                f"Unix socket path is {len(encoded)} bytes; the limit is "
                f"{_MAX_SOCKET_PATH_BYTES}: use a shorter directory (e.g. under /tmp)"
            )
        if self.socket_path.exists():
            if not stat.S_ISSOCK(self.socket_path.stat().st_mode):
                raise FileExistsError(f"{self.socket_path} exists and is not a socket")
            self.socket_path.unlink()
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = DockerEngine(load_scenario(scenario))
        self._server = _UnixHttpServer(str(self.socket_path), self.engine)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="docker-engine-sim",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False
        logger.info("simulated Docker Engine listening on %s", self.base_url)

    @property
    def base_url(self) -> str:
        """Return the docker-py ``base_url``: ``unix:///path/to/docker.sock``."""
        return f"unix://{self.socket_path}"

    @property
    def restarts(self) -> list[ContainerAction]:
        """Return the restart calls received, oldest first."""
        return [a for a in self.engine.actions if a.action == "restart"]

    @property
    def actions(self) -> list[ContainerAction]:
        """Return every state-changing call received (restart, start, stop)."""
        return list(self.engine.actions)

    @property
    def containers(self) -> tuple[ContainerSpec, ...]:
        """Return the simulated containers."""
        return self.engine.containers

    def load_scenario(self, scenario: str | Mapping[str, Any]) -> None:
        """Serve another scenario (bundled name or mapping)."""
        self.engine.load(load_scenario(scenario))

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.socket_path.unlink(missing_ok=True)
        logger.info("simulated Docker Engine on %s stopped", self.socket_path)

    def __enter__(self) -> DockerEngineSim:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_docker_engine(
    socket_path: Path, scenario: str | Mapping[str, Any] = "healthy"
) -> DockerEngineSim:
    """Start a simulated Docker Engine on ``socket_path`` serving ``scenario``."""
    return DockerEngineSim(socket_path, scenario)
