"""JSON shapes of the Engine API (container list entries, inspect, image inspect)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from testbed.docker_engine.scenario import ContainerSpec

logger = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"
_NANOS_PER = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def rfc3339_nano(moment: dt.datetime | None) -> str:
    """Format as the daemon does (nanosecond precision, ``Z``); None is Go's zero time."""
    if moment is None:
        return ZERO_TIME
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond * 1000:09d}Z"


def human_duration(seconds: float) -> str:
    """Go ``units.HumanDuration``: "Less than a second", "About a minute", "2 days"..."""
    whole = int(seconds)
    minutes, hours = whole // 60, whole // 3600
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{hours // (24 * 365)} years"


def status_text(container: ContainerSpec, now: dt.datetime) -> str:
    """The ``Status`` column of ``docker ps``."""
    state = container.state
    if state.status in ("running", "paused"):
        up = human_duration((now - (state.started_at or now)).total_seconds())
        if state.status == "paused":
            return f"Up {up} (Paused)"
        health = {
            "healthy": " (healthy)",
            "unhealthy": " (unhealthy)",
            "starting": " (health: starting)",
        }.get(state.health or "", "")
        return f"Up {up}{health}"
    if state.status in ("restarting", "exited"):
        ago = human_duration((now - (state.finished_at or now)).total_seconds())
        word = "Restarting" if state.status == "restarting" else "Exited"
        return f"{word} ({state.exit_code}) {ago} ago"
    return {"created": "Created", "removing": "Removal In Progress", "dead": "Dead"}[state.status]


def reported_health(container: ContainerSpec) -> str:
    """Return ``State.Health.Status`` ("none" without a healthcheck).

    A stopped container keeps its Health block; the daemon marks it unhealthy when it
    stops monitoring.
    """
    if container.healthcheck is None:
        return "none"
    return container.state.health or "unhealthy"


def image_id(image: str) -> str:
    """Return a stable simulated ``sha256:`` image id for an image reference."""
    return "sha256:" + hashlib.sha256(f"vigil-sim-image/{image}".encode()).hexdigest()


def _network_name(container: ContainerSpec) -> str:
    return f"{container.project}_default"


def _port_key(port: dict[str, Any]) -> str:
    return f"{port['private']}/{port.get('protocol', 'tcp')}"


def _network(container: ContainerSpec) -> dict[str, Any]:
    running = container.state.status in ("running", "paused")
    address = container.ip_address if running else ""
    gateway = container.ip_address.rsplit(".", 1)[0] + ".1" if running else ""
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": [container.name, container.service],
        "NetworkID": hashlib.sha256(_network_name(container).encode()).hexdigest(),
        "EndpointID": hashlib.sha256(container.id.encode()).hexdigest() if running else "",
        "Gateway": gateway,
        "IPAddress": address,
        "IPPrefixLen": 16 if running else 0,
        "MacAddress": "02:42:ac:12:00:02" if running else "",
        "DNSNames": [container.name, container.service, container.id[:12]],
    }


def container_summary(container: ContainerSpec, now: dt.datetime) -> dict[str, Any]:
    """One entry of ``GET /containers/json``."""
    ports = [
        {
            "IP": "0.0.0.0",
            "PrivatePort": int(p["private"]),
            "PublicPort": int(p["public"]),
            "Type": p.get("protocol", "tcp"),
        }
        if "public" in p
        else {"PrivatePort": int(p["private"]), "Type": p.get("protocol", "tcp")}
        for p in container.ports
    ]
    return {
        "Id": container.id,
        "Names": [f"/{container.name}"],
        "Image": container.image,
        "ImageID": image_id(container.image),
        "Command": " ".join(container.command),
        "Created": int(container.created.timestamp()),
        "Ports": ports if container.state.status == "running" else [],
        "Labels": dict(container.labels),
        "State": container.state.status,
        "Status": status_text(container, now),
        "HostConfig": {"NetworkMode": _network_name(container)},
        "NetworkSettings": {"Networks": {_network_name(container): _network(container)}},
        "Mounts": [],
    }


def _duration_ns(value: Any) -> int:
    text = str(value)
    if text and text[-1] in _NANOS_PER and text[:-1].isdigit():
        return int(text[:-1]) * _NANOS_PER[text[-1]]
    return int(value)


def _state(container: ContainerSpec) -> dict[str, Any]:
    state = container.state
    body: dict[str, Any] = {
        "Status": state.status,
        # The daemon reports a restarting or paused container as Running.
        "Running": state.status in ("running", "paused", "restarting"),
        "Paused": state.status == "paused",
        "Restarting": state.status == "restarting",
        "OOMKilled": state.oom_killed,
        "Dead": state.status == "dead",
        "Pid": state.pid if state.status in ("running", "paused") else 0,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": rfc3339_nano(state.started_at),
        "FinishedAt": rfc3339_nano(state.finished_at),
    }
    if container.healthcheck is not None:
        body["Health"] = {
            "Status": reported_health(container),
            "FailingStreak": state.failing_streak,
            "Log": [
                {
                    "Start": rfc3339_nano(probe.start),
                    "End": rfc3339_nano(probe.end),
                    "ExitCode": probe.exit_code,
                    "Output": probe.output,
                }
                for probe in state.health_log
            ],
        }
    return body


def _healthcheck(container: ContainerSpec) -> dict[str, Any] | None:
    check = container.healthcheck
    if check is None:
        return None
    return {
        "Test": list(check["test"]),
        "Interval": _duration_ns(check.get("interval", "30s")),
        "Timeout": _duration_ns(check.get("timeout", "30s")),
        "Retries": int(check.get("retries", 3)),
        "StartPeriod": _duration_ns(check.get("start_period", 0)),
    }


def container_inspect(container: ContainerSpec) -> dict[str, Any]:
    """``GET /containers/{id}/json``."""
    published = [p for p in container.ports if "public" in p]
    port_map: dict[str, Any] = {_port_key(p): None for p in container.ports}
    if container.state.status == "running":
        for p in published:
            port_map[_port_key(p)] = [
                {"HostIp": "0.0.0.0", "HostPort": str(p["public"])},
                {"HostIp": "::", "HostPort": str(p["public"])},
            ]
    config: dict[str, Any] = {
        "Hostname": container.id[:12],
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "ExposedPorts": {_port_key(p): {} for p in container.ports},
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": [f"{key}={value}" for key, value in container.env.items()],
        "Cmd": list(container.command) or None,
        "Image": container.image,
        "Volumes": None,
        "WorkingDir": container.working_dir,
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": dict(container.labels),
    }
    healthcheck = _healthcheck(container)
    if healthcheck is not None:
        config["Healthcheck"] = healthcheck
    log_path = f"/var/lib/docker/containers/{container.id}/{container.id}-json.log"
    return {
        "Id": container.id,
        "Created": rfc3339_nano(container.created),
        "Path": container.command[0] if container.command else "",
        "Args": container.command[1:],
        "State": _state(container),
        "Image": image_id(container.image),
        "ResolvConfPath": f"/var/lib/docker/containers/{container.id}/resolv.conf",
        "HostnamePath": f"/var/lib/docker/containers/{container.id}/hostname",
        "HostsPath": f"/var/lib/docker/containers/{container.id}/hosts",
        "LogPath": log_path,
        "Name": f"/{container.name}",
        "RestartCount": container.state.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "docker-default",
        "HostConfig": {
            "NetworkMode": _network_name(container),
            "RestartPolicy": {"Name": container.restart_policy, "MaximumRetryCount": 0},
            "PortBindings": {
                _port_key(p): [{"HostIp": "", "HostPort": str(p["public"])}] for p in published
            },
            "LogConfig": {"Type": "json-file", "Config": {}},
        },
        "Mounts": [],
        "Config": config,
        "NetworkSettings": {
            "Ports": port_map,
            "Networks": {_network_name(container): _network(container)},
        },
    }


def image_inspect(image: str, created: dt.datetime) -> dict[str, Any]:
    """``GET /images/{name}/json`` for an image a container uses."""
    return {
        "Id": image_id(image),
        "RepoTags": [image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"],
        "RepoDigests": [],
        "Parent": "",
        "Comment": "",
        "Created": rfc3339_nano(created),
        "DockerVersion": "",
        "Author": "",
        "Architecture": "amd64",
        "Os": "linux",
        "Size": 187_000_000,
        "Config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "RootFS": {"Type": "layers", "Layers": [image_id(image)]},
    }


_HOST_CPUS = 4
_HOST_MEMORY_MIB = 15_928.0
_SAMPLE_NS = 1_000_000_000  # the daemon's one-second gap between the two samples


def container_stats(container: ContainerSpec, now: dt.datetime) -> dict[str, Any]:
    """One ``GET /containers/{id}/stats?stream=false`` answer (cgroup v2 layout).

    The counters are built so that the CLI's formula gives back the scenario's
    ``cpu_percent`` and ``memory_mib``; a stopped container reports zeros, as the daemon does.
    """
    running = container.state.status == "running"
    usage = container.usage
    percent = usage.get("cpu_percent", 0.5) if running else 0.0
    memory = usage.get("memory_mib", 64.0) * 2**20 if running else 0.0
    limit = usage.get("memory_limit_mib", _HOST_MEMORY_MIB) * 2**20
    system_delta = _SAMPLE_NS * _HOST_CPUS
    cpu_delta = int(percent / 100 * system_delta / _HOST_CPUS)
    base_system = int(now.timestamp()) * _SAMPLE_NS * _HOST_CPUS
    base_cpu = int(container.state.pid) * 1_000_000
    cache = 8 * 2**20 if running else 0

    def cpu(total: int, system: int) -> dict[str, Any]:
        return {
            "cpu_usage": {
                "total_usage": total,
                "usage_in_kernelmode": total // 5,
                "usage_in_usermode": total - total // 5,
            },
            "system_cpu_usage": system,
            "online_cpus": _HOST_CPUS,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }

    return {
        "name": f"/{container.name}",
        "id": container.id,
        "read": rfc3339_nano(now),
        "preread": rfc3339_nano(now - dt.timedelta(seconds=1)),
        "pids_stats": {"current": 12 if running else 0, "limit": 4915},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(base_cpu + cpu_delta, base_system + system_delta),
        "precpu_stats": cpu(base_cpu, base_system),
        "memory_stats": {
            "usage": int(memory + cache),
            "stats": {"inactive_file": cache, "active_file": 0, "anon": int(memory)},
            "limit": int(limit),
        },
        "networks": {"eth0": {"rx_bytes": 0, "rx_packets": 0, "tx_bytes": 0, "tx_packets": 0}},
    }
