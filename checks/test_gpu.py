"""GPU checks through NVML on the host Vigil runs on (catalogue kind gpu).

Every GPU is judged and named by index and UUID. Remote GPU nodes are checked with core kinds
(``metric_threshold`` on a DCGM exporter, ``http_json_threshold`` on a GPU service).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.gpu import GpuReading, NvmlSnapshot
from fixtures.verdict import fail, judge_each
from plugins.schema.gpu import THROTTLE_REASONS, GpuNvmlCheck

Record = Callable[[str, object], None]
_GIB = 1024**3


def _value(
    check: GpuNvmlCheck, snapshot: NvmlSnapshot, gpu: GpuReading
) -> tuple[str, float] | None:
    """What to judge for one GPU (None: the board cannot say)."""
    who = f"gpus {snapshot.host} {gpu.label}"
    if check.reading == "temperature" and gpu.temperature_c is not None:
        return f"{who} temperature", gpu.temperature_c
    if check.reading == "memory_used_percent" and gpu.memory_total_bytes:
        used = gpu.memory_used_bytes or 0
        shown = f"{used / _GIB:.1f}/{gpu.memory_total_bytes / _GIB:.0f} GiB"
        return f"{who} memory used ({shown})", 100.0 * used / gpu.memory_total_bytes
    if check.reading == "ecc_uncorrected" and gpu.ecc_uncorrected is not None:
        return f"{who} volatile uncorrected ECC", float(gpu.ecc_uncorrected)
    if check.reading == "power_percent" and gpu.power_w is not None and gpu.power_limit_w:
        shown = f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f} W"
        return f"{who} power ({shown})", 100.0 * gpu.power_w / gpu.power_limit_w
    if check.reading == "utilization" and gpu.utilization_percent is not None:
        return f"{who} utilisation (%)", gpu.utilization_percent
    if check.reading == "xid" and snapshot.xids is not None:
        seen = snapshot.xids.get(gpu.index, [])
        listed = f" {seen}" if seen else ""
        return f"{who} XID events in {check.xid_window}{listed}", float(len(seen))
    return None


@pytest.mark.kind("gpu_nvml")
@pytest.mark.severity("high")
@pytest.mark.capacity
def test_gpu_nvml(check: GpuNvmlCheck, observation: NvmlSnapshot, record_property: Record) -> None:
    lost = [gpu.label for gpu in observation.gpus if gpu.lost]
    if lost:
        fail(
            f"gpus {observation.host}: {', '.join(lost)} lost "
            "(fell off the bus: NVMLError_GpuIsLost)",
            observed=f"{len(lost)} lost",
            expected="every GPU answering",
        )
    expected = observation.expected_count
    if expected is not None and observation.count < expected:
        fail(
            f"gpus {observation.host}: NVML shows {observation.count} GPUs, expected {expected}",
            observed=observation.count,
            expected=expected,
        )
    if check.reading == "throttle":
        _judge_throttle(check, observation)
        return
    readings = [r for gpu in observation.gpus if (r := _value(check, observation, gpu)) is not None]
    record_property("observed", ", ".join(f"{what} = {value:.4g}" for what, value in readings))
    bands = check.effective_bands()
    if bands is None:
        record_property(
            "message", "informational: " + "; ".join(f"{w} = {v:.4g}" for w, v in readings)
        )
        return
    judge_each(readings, bands)


def _judge_throttle(check: GpuNvmlCheck, snapshot: NvmlSnapshot) -> None:
    __tracebackhide__ = True
    problems = []
    for gpu in snapshot.gpus:
        active = [
            reason
            for reason in check.throttle_reasons
            if gpu.throttle_reasons is not None and gpu.throttle_reasons & THROTTLE_REASONS[reason]
        ]
        if active:
            problems.append(f"{gpu.label} clocks held down by {', '.join(active)}")
    if problems:
        fail(
            f"gpus {snapshot.host}: " + "; ".join(problems),
            observed="; ".join(problems),
            expected=f"none of {', '.join(check.throttle_reasons)}",
        )
