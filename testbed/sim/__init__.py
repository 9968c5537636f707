"""HTTP simulators of the seed systems (AEGIS-C, Aegis, Aureus, Anomaly Detector, observability).

Every simulator speaks plain HTTP on its own loopback port; all of them run on one background
thread with its own asyncio loop. Faults (``down``, ``slow``, ``unhealthy``, ``metric``,
``auth_open``, ``stalled``, ``error``) are set from Python or over the control port. Service
names, endpoints, fields, metric names and healthy values: ``testbed/sim/README.md``.

>>> with start_stack() as stack:  # doctest: +SKIP
...     stack.set_fault("aegis-c-hardware", "metric", name="temperature_c", value=92, gpu=0)
"""

from __future__ import annotations

from testbed.sim.catalog import SERVICE_NAMES
from testbed.sim.faults import FAULT_KINDS, FaultError
from testbed.sim.stack import SimStack, start_stack

__all__ = ["FAULT_KINDS", "SERVICE_NAMES", "FaultError", "SimStack", "start_stack"]
