"""Request dispatch of the simulated Docker Engine API, independent of the socket plumbing.

Serves what docker-py 7.1 uses for compose health checks and remediation: ``/_ping``,
``/version``, ``/info``, container list (``all``, ``filters``), inspect, logs (multiplexed
stream), restart/start/stop (recorded), image inspect. Paths may carry a ``/v1.NN``
prefix between the minimum and maximum API versions, as the daemon accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from testbed.docker_engine.scenario import (
    ContainerSpec,
    DockerScenario,
    build_state,
)
from testbed.docker_engine.shapes import (
    container_inspect,
    container_stats,
    container_summary,
    image_id,
    image_inspect,
    reported_health,
    rfc3339_nano,
)

logger = logging.getLogger(__name__)

ENGINE_VERSION = "26.1.4"
API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
_CONTAINER_ROUTE = re.compile(r"^/containers/([^/]+)/(json|logs|stats|restart|start|stop)$")
_IMAGE_ROUTE = re.compile(r"^/images/(.+)/json$")
_LISTED_WHEN_NOT_ALL = frozenset({"running", "paused", "restarting"})
_FILTERS = frozenset({"label", "status", "name", "id", "health", "exited"})


@dataclass(frozen=True)
class EngineRequest:
    """What the dispatcher needs from an HTTP request."""

    method: str
    path: str
    query: str


@dataclass
class EngineResponse:
    """Status, body, content type and extra headers to send."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any) -> EngineResponse:
        """Return a JSON response."""
        return cls(status, json.dumps(payload).encode())

    @classmethod
    def error(cls, status: int, message: str) -> EngineResponse:
        """Return the daemon's error body, ``{"message": ...}``."""
        return cls.json(status, {"message": message})


@dataclass(frozen=True)
class ContainerAction:
    """A state-changing call the simulation received (remediation audit)."""

    action: str
    container_id: str
    name: str
    project: str
    service: str
    timeout: int | None
    at: dt.datetime


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "").lower() in ("1", "true")


def _filter_values(raw: Any) -> list[str]:
    # The daemon accepts both {"label": ["a=b"]} and the legacy {"label": {"a=b": true}}.
    if isinstance(raw, Mapping):
        return [str(k) for k, enabled in raw.items() if enabled]
    if isinstance(raw, list):
        return [str(v) for v in raw]
    return [str(raw)]


def _label_matches(container: ContainerSpec, wanted: str) -> bool:
    key, has_value, value = wanted.partition("=")
    if key not in container.labels:
        return False
    return not has_value or container.labels[key] == value


def _filter_matches(key: str, values: list[str], container: ContainerSpec) -> bool:
    state = container.state
    if key == "label":
        return all(_label_matches(container, wanted) for wanted in values)
    if key == "status":
        return state.status in values
    if key == "name":
        return any(re.search(pattern, f"/{container.name}") for pattern in values)
    if key == "id":
        return any(container.id.startswith(prefix) for prefix in values)
    if key == "health":
        return reported_health(container) in values
    return state.status == "exited" and str(state.exit_code) in values  # "exited"


def _filter_predicates(filters: Mapping[str, Any]) -> list[Callable[[ContainerSpec], bool]]:
    predicates: list[Callable[[ContainerSpec], bool]] = []
    for key, raw in filters.items():
        if key not in _FILTERS:
            raise ValueError(f"invalid filter '{key}'")
        values = _filter_values(raw)
        if key == "name":
            for pattern in values:
                re.compile(pattern)  # reject a bad pattern as the daemon does (400)
        predicates.append(functools.partial(_filter_matches, key, values))
    return predicates


class DockerEngine:
    """Holds the containers of one scenario; answers Engine API requests."""

    def __init__(self, scenario: DockerScenario) -> None:
        self._lock = threading.Lock()
        self._scenario = scenario
        self.actions: list[ContainerAction] = []

    @property
    def scenario_name(self) -> str:
        """Return the name of the scenario being served."""
        return self._scenario.name

    @property
    def containers(self) -> tuple[ContainerSpec, ...]:
        """Return the simulated containers (live objects)."""
        return self._scenario.containers

    def load(self, scenario: DockerScenario) -> None:
        """Serve ``scenario`` from now on; recorded actions are kept."""
        with self._lock:
            self._scenario = scenario
        logger.info("simulated Docker Engine now serves scenario %s", scenario.name)

    def find(self, reference: str) -> ContainerSpec | None:
        """Find a container by full id, name (with or without '/'), or unique id prefix."""
        name = reference.lstrip("/")
        containers = self._scenario.containers
        for container in containers:
            if reference in (container.id, container.name) or name == container.name:
                return container
        matches = [c for c in containers if c.id.startswith(reference)]
        return matches[0] if len(matches) == 1 else None

    # --- dispatch ------------------------------------------------------------------------

    def dispatch(self, request: EngineRequest) -> EngineResponse:
        """Answer one request, adding the daemon's standard headers."""
        response = self._route(request)
        response.headers.update(
            {
                "Api-Version": API_VERSION,
                "Docker-Experimental": "false",
                "Ostype": "linux",
                "Server": f"Docker/{ENGINE_VERSION} (linux)",
            }
        )
        return response

    def _route(self, request: EngineRequest) -> EngineResponse:
        path = request.path
        versioned = _VERSIONED.match(path)
        api_version = API_VERSION
        if versioned:
            api_version = f"{versioned.group(1)}.{versioned.group(2)}"
            path = versioned.group(3)
            if _version_tuple(api_version) > _version_tuple(API_VERSION):
                return EngineResponse.error(
                    400,
                    f"client version {api_version} is too new. "
                    f"Maximum supported API version is {API_VERSION}",
                )
            if _version_tuple(api_version) < _version_tuple(MIN_API_VERSION):
                return EngineResponse.error(
                    400,
                    f"client version {api_version} is too old. Minimum supported API version "
                    f"is {MIN_API_VERSION}, please upgrade your client to a newer version",
                )
        params = {k: v[-1] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        method = request.method
        if path == "/_ping" and method in ("GET", "HEAD"):
            return EngineResponse(
                200,
                b"OK" if method == "GET" else b"",
                "text/plain; charset=utf-8",
                {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"},
            )
        if method == "GET" and path == "/version":
            return EngineResponse.json(200, self._version())
        if method == "GET" and path == "/info":
            return EngineResponse.json(200, self._info())
        if method == "GET" and path == "/containers/json":
            return self._list(params)
        image = _IMAGE_ROUTE.match(path)
        if method == "GET" and image:
            return self._image(image.group(1))
        route = _CONTAINER_ROUTE.match(path)
        if route is None:
            return EngineResponse.error(404, "page not found")
        reference, operation = route.groups()
        expected_method = "GET" if operation in ("json", "logs", "stats") else "POST"
        if method != expected_method:
            return EngineResponse.error(404, "page not found")
        with self._lock:
            container = self.find(reference)
            if container is None:
                return EngineResponse.error(404, f"No such container: {reference}")
            if operation == "json":
                return EngineResponse.json(200, container_inspect(container))
            if operation == "logs":
                return self._logs(container, params, api_version)
            if operation == "stats":
                if _flag(params, "stream") or "stream" not in params:
                    # The daemon would stream a sample a second; the simulation answers once.
                    return EngineResponse.error(400, "the simulation serves stream=false only")
                return EngineResponse.json(200, container_stats(container, dt.datetime.now(dt.UTC)))
            return self._act(container, operation, params)

    # --- endpoints -----------------------------------------------------------------------

    def _version(self) -> dict[str, Any]:
        details = {
            "ApiVersion": API_VERSION,
            "Arch": "amd64",
            "BuildTime": "2024-06-05T11:29:14.000000000+00:00",
            "GitCommit": "de5c9cf",
            "GoVersion": "go1.21.11",
            "KernelVersion": "6.1.0-18-cloud-amd64",
            "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux",
        }
        return {
            "Platform": {"Name": "Docker Engine - Community (Vigil simulation)"},
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
            "Version": ENGINE_VERSION,
            **{k: v for k, v in details.items() if k != "Details"},
        }

    def _info(self) -> dict[str, Any]:
        containers = self._scenario.containers
        statuses = [c.state.status for c in containers]
        return {
            "ID": "VIGL:SIMU:LATE:DOCK:ERSI:M000:0000:0000:0000:0000:0000:0001",
            "Containers": len(containers),
            "ContainersRunning": sum(s in ("running", "restarting") for s in statuses),
            "ContainersPaused": statuses.count("paused"),
            "ContainersStopped": sum(s in ("exited", "created", "dead") for s in statuses),
            "Images": len({c.image for c in containers}),
            "Driver": "overlay2",
            "ServerVersion": ENGINE_VERSION,
            "OperatingSystem": "Debian GNU/Linux 12 (bookworm) (Vigil simulation)",
            "OSType": "linux",
            "Architecture": "x86_64",
            "KernelVersion": "6.1.0-18-cloud-amd64",
            "NCPU": 8,
            "MemTotal": 33_654_177_792,
            "Name": "vigil-docker-sim",
        }

    def _list(self, params: Mapping[str, str]) -> EngineResponse:
        try:
            filters = json.loads(params["filters"]) if params.get("filters") else {}
            if not isinstance(filters, Mapping):
                raise ValueError("filters must be a JSON object")
            predicates = _filter_predicates(filters)
        except (ValueError, re.error) as exc:
            return EngineResponse.error(400, str(exc))
        include_all = _flag(params, "all")
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            containers = [
                c
                for c in self._scenario.containers
                if (include_all or c.state.status in _LISTED_WHEN_NOT_ALL)
                and all(predicate(c) for predicate in predicates)
            ]
            containers.sort(key=lambda c: (-c.created.timestamp(), c.name))
            return EngineResponse.json(200, [container_summary(c, now) for c in containers])

    def _image(self, reference: str) -> EngineResponse:
        digest = reference.removeprefix("sha256:")
        for container in self._scenario.containers:
            names = (container.image, f"{container.image}:latest")
            if reference in names or image_id(container.image)[7:].startswith(digest or "-"):
                return EngineResponse.json(200, image_inspect(container.image, container.created))
        return EngineResponse.error(404, f"No such image: {reference}")

    def _logs(
        self, container: ContainerSpec, params: Mapping[str, str], api_version: str
    ) -> EngineResponse:
        streams = {name for name in ("stdout", "stderr") if _flag(params, name)}
        if not streams:
            return EngineResponse.error(400, "Bad parameters: you must choose at least one stream")
        lines = [line for line in container.logs if line.stream in streams]
        since = float(params.get("since") or 0)
        if since:
            lines = [line for line in lines if line.at.timestamp() >= since]
        tail = params.get("tail", "all")
        if tail not in ("all", "") and tail.lstrip("-").isdigit() and int(tail) >= 0:
            lines = lines[len(lines) - int(tail) :] if int(tail) else []
        with_timestamps = _flag(params, "timestamps")
        frames = bytearray()
        for line in lines:
            text = f"{rfc3339_nano(line.at)} {line.text}" if with_timestamps else line.text
            payload = (text + "\n").encode()
            stream_id = 1 if line.stream == "stdout" else 2
            frames += bytes([stream_id, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
        content_type = (
            "application/vnd.docker.multiplexed-stream"
            if _version_tuple(api_version) >= (1, 42)
            else "application/vnd.docker.raw-stream"
        )
        return EngineResponse(200, bytes(frames), content_type)

    def _act(
        self, container: ContainerSpec, operation: str, params: Mapping[str, str]
    ) -> EngineResponse:
        now = dt.datetime.now(dt.UTC)
        timeout = int(params["t"]) if params.get("t", "").lstrip("-").isdigit() else None
        running = container.state.status in ("running", "paused", "restarting")
        if (operation == "start" and running) or (operation == "stop" and not running):
            return EngineResponse(304)
        self.actions.append(
            ContainerAction(
                operation,
                container.id,
                container.name,
                container.project,
                container.service,
                timeout,
                now,
            )
        )
        if operation == "stop":
            state = container.state
            state.status, state.exit_code, state.finished_at = "exited", 0, now
            state.health, state.pid, state.failing_streak = None, 0, 0
        else:
            self._start(container, now)
        logger.info("simulated docker %s of %s", operation, container.name)
        return EngineResponse(204)

    @staticmethod
    def _start(container: ContainerSpec, now: dt.datetime) -> None:
        # A manual restart does not count in RestartCount (only the restart policy's do);
        # the healthcheck start period is skipped unless after_restart says otherwise.
        outcome = {"status": "running", "started": "now", "finished": "now"}
        outcome.update(container.after_restart)
        previous = container.state.restart_count
        container.state = build_state(outcome, container.healthcheck is not None, now)
        if "restart_count" not in container.after_restart:
            container.state.restart_count = previous
        if container.state.status in ("running", "paused"):
            container.state.pid = 5200 + len(container.name)
