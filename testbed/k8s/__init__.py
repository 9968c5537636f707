"""Simulated Kubernetes API server (HTTPS, real wire protocol) for Vigil's integration tests."""

from __future__ import annotations

from testbed.k8s.api import RecordedRequest
from testbed.k8s.scenario import ScenarioError, available_scenarios
from testbed.k8s.server import K8sApiServer, start_k8s_api

__all__ = [
    "K8sApiServer",
    "RecordedRequest",
    "ScenarioError",
    "available_scenarios",
    "start_k8s_api",
]
