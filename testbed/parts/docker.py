"""The simulated Docker Engine (``testbed.docker_engine``) on a Unix socket in a temp dir.

Variable ``VIGIL_DOCKER_URL`` (``unix:///tmp/vigil-dk-.../docker.sock``). The scenario is
``testbed.scenarios.docker`` (default ``healthy``: compose projects aegis-c and aegis); this
part adds runbook 003's ``docker-compose-full.yml`` stack (project ``aureus``) and gives the
aegis-c detector the demo's API key, the one clients send, where the scenario sets one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testbed.demo import RunningTestbed, TestbedError

DETECTOR = "aegis-c-detector-1"


def aureus_stack() -> dict[str, dict[str, Any]]:
    """Runbook 003's compose stack: the three services, their stores and monitoring."""
    running = {"status": "running", "started": "-3d"}
    services = {
        "bridge": ("aureus/bridge:2.3.1", 8080),
        "aureus-os": ("aureus/aureus-os:3.1.0", 8000),
        "openclaw": ("aureus/openclaw:1.12.0", 8090),
        "postgres": ("postgres:15", 5432),
        "prometheus": ("prom/prometheus:v2.51.2", 9090),
        "grafana": ("grafana/grafana:10.4.2", 3000),
        "loki": ("grafana/loki:2.9.8", 3100),
    }
    return {
        f"aureus-{service}-1": {
            "project": "aureus",
            "service": service,
            "image": image,
            "config_file": "/srv/aureus/docker-compose-full.yml",
            "ports": [{"private": port}],
            "state": dict(running),
            "logs": [f"{service} started"],
        }
        for service, (image, port) in services.items()
    }


def scenario_document(scenario: str, api_key: str) -> dict[str, Any]:
    """The scenario, extended with the aureus stack and the demo's detector key."""
    from testbed.docker_engine.scenario import load_scenario

    containers: dict[str, Any] = aureus_stack()
    base = {c.name: c for c in load_scenario(scenario).containers}
    # A scenario that removes API_KEY (missing-env) must keep it removed.
    if DETECTOR in base and "API_KEY" in base[DETECTOR].env:
        containers[DETECTOR] = {"env": {"API_KEY": api_key}}
    return {"name": scenario, "extends": scenario, "containers": containers}


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.docker_engine import ScenarioError, start_docker_engine

    scenario = str((spec.get("scenarios") or {}).get("docker", "healthy"))
    api_key = str(spec.get("api_key", "demo-key"))
    # Under /tmp: a Unix socket path must stay under 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="vigil-dk-", dir="/tmp"))
    try:
        engine = start_docker_engine(
            directory / "docker.sock", scenario_document(scenario, api_key)
        )
    except ScenarioError as problem:
        shutil.rmtree(directory, ignore_errors=True)
        raise TestbedError(f"docker: {problem}") from None
    running.stoppers.append(lambda: shutil.rmtree(directory, ignore_errors=True))
    running.stoppers.append(engine.stop)
    running.variables["VIGIL_DOCKER_URL"] = engine.base_url
