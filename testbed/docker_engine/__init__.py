"""Simulated Docker Engine API on a Unix socket (real wire protocol) for Vigil's tests."""

from __future__ import annotations

from testbed.docker_engine.engine import API_VERSION, ContainerAction
from testbed.docker_engine.scenario import ScenarioError, available_scenarios
from testbed.docker_engine.server import DockerEngineSim, start_docker_engine

__all__ = [
    "API_VERSION",
    "ContainerAction",
    "DockerEngineSim",
    "ScenarioError",
    "available_scenarios",
    "start_docker_engine",
]
