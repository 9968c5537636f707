"""The HTTP simulators of the seed systems (AEGIS-C, Aegis, Anomaly Detector, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.demo import RunningTestbed, variable_name


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.sim import start_stack

    api_key = str(spec.get("api_key", "demo-key"))
    stack = start_stack(faults=spec.get("faults") or {}, api_key=api_key)
    running.stoppers.append(stack.stop)
    for name, url in stack.urls.items():
        running.variables[variable_name("SIM", name, "URL")] = url
    running.variables["SIM_CONTROL_URL"] = stack.control_url
    running.variables["SIM_API_KEY"] = api_key
