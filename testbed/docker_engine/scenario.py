"""Scenario fixtures for the simulated Docker Engine: compose containers, load and inherit.

A scenario file (``scenarios/NAME.yaml``) describes containers in compose terms, keyed by
container name (``aegis-c-detector-1``): project, service, image, command, env, ports,
healthcheck, state, logs, and ``after_restart`` (the state a restart leads to; by default
running and, with a healthcheck, healthy). ``extends: other`` deep-merges over another
scenario, so a fault scenario only states what differs; ``remove_env`` drops variables.
Times are relative to load time: ``-2d``, ``-12m``, ``-30s``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).parent / "scenarios"
_RELATIVE = re.compile(r"^([+-])(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_EXTENDS_DEPTH = 8
STATUSES = frozenset({"created", "running", "paused", "restarting", "removing", "exited", "dead"})
HEALTH_STATUSES = frozenset({"starting", "healthy", "unhealthy"})


class ScenarioError(ValueError):
    """A Docker scenario fixture that cannot be loaded."""


@dataclass
class HealthProbe:
    """One entry of ``State.Health.Log``."""

    start: dt.datetime
    end: dt.datetime
    exit_code: int
    output: str


@dataclass
class ContainerState:
    """Mutable runtime state of a container (what ``State`` reports)."""

    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    exit_code: int = 0
    restart_count: int = 0
    health: str | None = None
    failing_streak: int = 0
    health_log: list[HealthProbe] = field(default_factory=list)
    oom_killed: bool = False
    error: str = ""
    pid: int = 0


@dataclass(frozen=True)
class LogLine:
    """One log line: stream (stdout/stderr), time, text."""

    stream: str
    at: dt.datetime
    text: str


@dataclass
class ContainerSpec:
    """A simulated container: static config plus mutable ``state``."""

    id: str
    name: str
    project: str
    service: str
    number: int
    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    ports: list[dict[str, Any]]
    healthcheck: dict[str, Any] | None
    restart_policy: str
    created: dt.datetime
    working_dir: str
    state: ContainerState
    after_restart: dict[str, Any]
    logs: list[LogLine]
    ip_address: str
    # docker stats figures: cpu_percent, memory_mib, memory_limit_mib (defaults when absent).
    usage: dict[str, float] = field(default_factory=dict)


def resolve_time(value: Any, now: dt.datetime) -> dt.datetime | None:
    """Resolve ``-2d``-style offsets (or ``now``) against ``now``; None stays None."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if not match:
        raise ScenarioError(f"not a relative time like -2d or -30s: {value!r}")
    sign, amount, unit = match.groups()
    seconds = int(amount) * _UNITS[unit]
    return now + dt.timedelta(seconds=seconds if sign == "+" else -seconds)


def available_scenarios() -> list[str]:
    """Return the names of the bundled Docker scenarios."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def _read_document(name: str) -> dict[str, Any]:
    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ScenarioError(
            f"no Docker scenario named {name!r}; available: {available_scenarios()}"
        )
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ScenarioError(f"{path.name}: top level must be a mapping")
    return document


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merged_containers(document: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    containers = dict(document.get("containers") or {})
    parent = document.get("extends")
    if not parent:
        return containers
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"scenario inheritance deeper than {_MAX_EXTENDS_DEPTH} levels")
    merged = _merged_containers(_read_document(str(parent)), depth + 1)
    for name, override in containers.items():
        merged[name] = _deep_merge(merged.get(name, {}), override or {})
        for variable in merged[name].pop("remove_env", None) or ():
            merged[name].get("env", {}).pop(variable, None)
    for name in document.get("remove") or ():
        merged.pop(name, None)
    return merged


def _compose_labels(name: str, data: Mapping[str, Any]) -> dict[str, str]:
    project, service = str(data["project"]), str(data["service"])
    working_dir = str(data.get("project_dir", f"/srv/{project}"))
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(data.get("number", 1)),
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project.working_dir": working_dir,
        "com.docker.compose.project.config_files": str(
            data.get("config_file", f"{working_dir}/docker-compose.yml")
        ),
        "com.docker.compose.config-hash": hashlib.sha256(name.encode()).hexdigest(),
        "com.docker.compose.image": "sha256:"
        + hashlib.sha256(str(data["image"]).encode()).hexdigest(),
        "com.docker.compose.version": "2.27.0",
        "com.docker.compose.depends_on": ",".join(
            f"{d}:service_started:false" for d in data.get("depends_on") or ()
        ),
    }
    labels.update({str(k): str(v) for k, v in (data.get("labels") or {}).items()})
    return labels


def _health_log(entries: Any, now: dt.datetime) -> list[HealthProbe]:
    probes = []
    for entry in entries or ():
        start = resolve_time(entry.get("at", "-30s"), now) or now
        probes.append(
            HealthProbe(
                start=start,
                end=start + dt.timedelta(milliseconds=int(entry.get("duration_ms", 40))),
                exit_code=int(entry.get("exit_code", 0)),
                output=str(entry.get("output", "")),
            )
        )
    return probes


def build_state(data: Mapping[str, Any], has_healthcheck: bool, now: dt.datetime) -> ContainerState:
    """Build a ContainerState from a scenario ``state`` (or ``after_restart``) mapping."""
    status = str(data.get("status", "running"))
    if status not in STATUSES:
        raise ScenarioError(f"unknown container status {status!r}; use one of {sorted(STATUSES)}")
    health = data.get("health", "healthy" if has_healthcheck else None)
    if health is not None and (health not in HEALTH_STATUSES or not has_healthcheck):
        raise ScenarioError(
            f"health {health!r} needs a healthcheck and one of {sorted(HEALTH_STATUSES)}"
        )
    return ContainerState(
        status=status,
        started_at=resolve_time(data.get("started", "-2d" if status != "created" else None), now),
        finished_at=resolve_time(data.get("finished"), now),
        exit_code=int(data.get("exit_code", 0)),
        restart_count=int(data.get("restart_count", 0)),
        health=health if status in ("running", "paused", "restarting") else None,
        failing_streak=int(data.get("failing_streak", 0)),
        health_log=_health_log(data.get("health_log"), now),
        oom_killed=bool(data.get("oom_killed", False)),
        error=str(data.get("error", "")),
        pid=int(data.get("pid", 0)),
    )


def _logs(entries: Any, started: dt.datetime | None, now: dt.datetime) -> list[LogLine]:
    lines = []
    for entry in entries or ():
        if isinstance(entry, str):
            lines.append(LogLine("stdout", started or now, entry))
        else:
            at = resolve_time(entry.get("at"), now) if entry.get("at") else started or now
            lines.append(LogLine(str(entry.get("stream", "stdout")), at or now, str(entry["line"])))
    # The json-file driver returns lines in time order; sort is stable for equal times.
    return sorted(lines, key=lambda line: line.at)


def _container(
    name: str, data: Mapping[str, Any], index: int, subnet: int, now: dt.datetime
) -> ContainerSpec:
    for required in ("project", "service", "image"):
        if required not in data:
            raise ScenarioError(f"container {name!r} needs {required!r}")
    healthcheck = data.get("healthcheck")
    state = build_state(data.get("state") or {}, healthcheck is not None, now)
    if state.pid == 0 and state.status in ("running", "paused"):
        state.pid = 4100 + 37 * index
    return ContainerSpec(
        id=hashlib.sha256(f"vigil-sim/{name}".encode()).hexdigest(),
        name=name,
        project=str(data["project"]),
        service=str(data["service"]),
        number=int(data.get("number", 1)),
        image=str(data["image"]),
        command=[str(part) for part in data.get("command") or ()],
        env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
        labels=_compose_labels(name, data),
        ports=[dict(p) for p in data.get("ports") or ()],
        healthcheck=dict(healthcheck) if healthcheck else None,
        restart_policy=str(data.get("restart", "unless-stopped")),
        created=resolve_time(data.get("created", "-30d"), now) or now,
        working_dir=str(data.get("working_dir", "/app")),
        state=state,
        after_restart=dict(data.get("after_restart") or {}),
        logs=_logs(data.get("logs"), state.started_at, now),
        ip_address=f"172.{subnet}.0.{2 + index}",
        usage={str(k): float(v) for k, v in (data.get("usage") or {}).items()},
    )


@dataclass(frozen=True)
class DockerScenario:
    """A resolved set of containers."""

    name: str
    containers: tuple[ContainerSpec, ...]


def load_scenario(
    scenario: str | Mapping[str, Any], now: dt.datetime | None = None
) -> DockerScenario:
    """Load a bundled scenario by name, or build one from a mapping of the same shape."""
    moment = now or dt.datetime.now(dt.UTC)
    document = _read_document(scenario) if isinstance(scenario, str) else dict(scenario)
    name = scenario if isinstance(scenario, str) else str(document.get("name", "custom"))
    try:
        merged = _merged_containers(document)
        # One bridge network per compose project (<project>_default), as compose creates.
        projects = sorted({str(data.get("project", "")) for data in merged.values()})
        containers = tuple(
            _container(
                cname, data, index, 18 + projects.index(str(data.get("project", ""))), moment
            )
            for index, (cname, data) in enumerate(sorted(merged.items()))
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"Docker scenario {name!r}: {exc}") from exc
    logger.debug("loaded Docker scenario %s with %d containers", name, len(containers))
    return DockerScenario(name, containers)
