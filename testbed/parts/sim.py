"""The HTTP simulators of the seed systems (AEGIS-C, Aegis, Aureus, Anomaly Detector, ...).

Sets ``VIGIL_SIM_<SERVICE>_URL`` for each simulator, ``VIGIL_SIM_CONTROL_URL`` and
``VIGIL_SIM_API_KEY`` / ``VIGIL_SIM_VIEWER_TOKEN`` (the demo's credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.demo import RunningTestbed


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.sim import start_stack

    api_key = str(spec.get("api_key", "demo-key"))
    stack = start_stack(faults=spec.get("faults") or {}, api_key=api_key)
    running.stoppers.append(stack.stop)
    running.variables.update(stack.env())
    running.variables["VIGIL_SIM_API_KEY"] = api_key
    running.variables["VIGIL_SIM_VIEWER_TOKEN"] = stack.tokens["viewer"]
