"""Simulated GPUs for the demo: NVML (``nvml: sim``) and a DCGM exporter over the same GPUs.

This is a simulation (no GPU here): ``testbed.nvml_sim.SimulatedNvml`` is registered with
``fixtures.gpu.register_nvml("sim", ...)``, so an environment whose ``gpus.<host>.nvml`` is
``${GPU_NVML}`` reads it through the same code path as the real pynvml; the simulated
dcgm-exporter serves the same ``GpuState`` objects over HTTP, as the real exporter on a GPU
node would serve that node's GPUs.

Options (``testbed.options.gpu``): ``count`` (default 2 A100s) and ``set: {index: {field:
value}}`` with ``GpuState`` fields (``temperature_c: 90``, ``ecc_uncorrected_volatile: 2``,
``pending_xids: [48]``, ``lost: true``...) plus ``throttle: [hw_thermal_slowdown, ...]``.

Variables: ``GPU_NVML`` (``sim``), ``DCGM_EXPORTER_URL``, ``DCGM_EXPORTER_METRICS_URL``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from fixtures.gpu import register_nvml
from plugins.schema.gpu import THROTTLE_REASONS
from testbed.demo import RunningTestbed, TestbedError

logger = logging.getLogger(__name__)

_GIB = 1024**3
# Stable identities, so reports and runbook links name the same GPU every run.
_UUIDS = (
    "GPU-5f0c2a61-8e4b-4c1e-9a53-0d6e1b7c2f01",
    "GPU-9b2d7e44-31c6-4f0a-8d2e-6a1c5b3e9f02",
    "GPU-2e8f1c93-7a4d-4b6e-b1f5-3c9d0a2e4f03",
    "GPU-c4a7e210-5d3b-4e8f-9c6a-1b2d3e4f5a04",
)
# Readings like the AEGIS-C hardware simulator's healthy GPUs (54/57 °C, 41/38 % busy).
_HEALTHY = (
    {"temperature_c": 54, "memory_used": 14, "utilization_gpu": 41, "power_w": 212},
    {"temperature_c": 57, "memory_used": 12, "utilization_gpu": 38, "power_w": 198},
)


def healthy_gpus(count: int = 2) -> list[Any]:
    """``count`` healthy simulated A100s (40 GiB, 400 W limit) with stable UUIDs."""
    from testbed.nvml_sim import GpuState

    if not 1 <= count <= len(_UUIDS):
        raise TestbedError(f"gpu: count must be 1 to {len(_UUIDS)}")
    gpus = []
    for index in range(count):
        reading = _HEALTHY[index % len(_HEALTHY)]
        gpus.append(
            GpuState(
                uuid=_UUIDS[index],
                pci_bus_id=f"00000000:{0x07 + index:02X}:00.0",
                temperature_c=int(reading["temperature_c"]),
                memory_used_bytes=int(reading["memory_used"]) * _GIB,
                utilization_gpu=int(reading["utilization_gpu"]),
                utilization_memory=int(reading["utilization_gpu"]) // 2,
                power_usage_mw=int(reading["power_w"]) * 1000,
            )
        )
    return gpus


def apply(gpus: list[Any], changes: Mapping[Any, Mapping[str, Any]]) -> None:
    """Set ``GpuState`` fields per GPU index; ``throttle`` takes reason names."""
    known = {f.name for f in dataclasses.fields(gpus[0])} if gpus else set()
    for raw_index, fields in changes.items():
        index = int(raw_index)
        if not 0 <= index < len(gpus):
            raise TestbedError(f"gpu: no GPU {index} (have {len(gpus)})")
        for name, value in fields.items():
            if name == "throttle":
                unknown = [r for r in value if r not in THROTTLE_REASONS]
                if unknown:
                    raise TestbedError(f"gpu: unknown throttle reason(s) {unknown}")
                gpus[index].clocks_event_reasons = sum(THROTTLE_REASONS[r] for r in value)
            elif name in known:
                setattr(gpus[index], name, value)
                if name == "pending_xids" and value:
                    gpus[index].last_xid = int(value[-1])
            else:
                raise TestbedError(f"gpu: GpuState has no field {name!r}")


def no_driver_nvml() -> Any:
    """An ``nvml: testbed.parts.gpu:no_driver_nvml`` provider: a host without NVIDIA driver."""
    from testbed.nvml_sim import SimulatedNvml

    return SimulatedNvml.no_gpu()


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    """Register the NVML simulation as ``sim`` and start the DCGM exporter simulation."""
    from testbed.dcgm_exporter import start_dcgm_exporter
    from testbed.nvml_sim import SimulatedNvml

    options = dict(spec.get("options", {}).get("gpu", {}) or {})
    unknown = set(options) - {"count", "set"}
    if unknown:
        raise TestbedError(f"gpu: unknown option(s) {sorted(unknown)}")
    gpus = healthy_gpus(int(options.get("count", 2)))
    apply(gpus, options.get("set") or {})
    simulation = SimulatedNvml(gpus)
    running.stoppers.append(register_nvml("sim", lambda: simulation))
    exporter = start_dcgm_exporter(gpus, hostname="gpu-node-1")
    running.stoppers.append(exporter.stop)
    running.variables.update(
        {
            "GPU_NVML": "sim",
            "DCGM_EXPORTER_URL": exporter.url,
            "DCGM_EXPORTER_METRICS_URL": f"{exporter.url}/metrics",
        }
    )
    logger.info("simulated GPUs: %d on NVML 'sim' and %s", len(gpus), exporter.url)
