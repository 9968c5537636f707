"""Local NVIDIA GPUs read through NVML, and the check on them.

Remote GPU nodes need no kind of their own: a DCGM exporter's ``/metrics`` is read by
``metric_threshold`` (``scrape: {url: ...}``) and a JSON GPU service by
``http_json_threshold``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel, duration_seconds
from plugins.schema.registry import check_kind, section

# NVML's clocks-event (throttle) reason bits, stable across driver versions.
THROTTLE_REASONS: dict[str, int] = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clock_setting": 0x100,
}
ThrottleReason = Literal[
    "gpu_idle",
    "applications_clocks_setting",
    "sw_power_cap",
    "hw_slowdown",
    "sync_boost",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "display_clock_setting",
]
Reading = Literal[
    "temperature",
    "memory_used_percent",
    "ecc_uncorrected",
    "xid",
    "throttle",
    "power_percent",
    "utilization",
]

# Thermal and power slowdowns: the clocks are held down to protect the board.
_SLOWDOWNS: list[ThrottleReason] = [
    "hw_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "sw_thermal_slowdown",
]

# What each reading is judged against when the entry gives no bands.
DEFAULT_BANDS: dict[str, Bands | None] = {
    "temperature": Bands(crit=85, unit=" °C"),
    "memory_used_percent": Bands(warn=90, crit=95, unit="%"),
    "ecc_uncorrected": Bands(crit=0, unit=" errors"),
    "xid": Bands(crit=0),
    "power_percent": Bands(warn=95, crit=100, unit="% of the power limit"),
    "throttle": None,
    "utilization": None,
}


@section("gpus")
class GpuHost(StrictModel):
    """The GPUs of the host Vigil runs on, and where NVML comes from.

    ``nvml`` is ``pynvml`` (the real library, nvidia-ml-py), ``module:function`` returning a
    module with pynvml's API, or a name registered with ``fixtures.gpu.register_nvml``
    (``sim``: the testbed's simulation).

    Example::

        gpus:
          local: {}
    """

    nvml: str = "pynvml"
    expected_count: int | None = Field(
        default=None, ge=1, description="GPUs the host must show; fewer means one fell off the bus"
    )


@check_kind("gpu_nvml")
class GpuNvmlCheck(CheckSpec):
    """One NVML reading of every GPU of a host (or the listed ones) against bands.

    Readings: ``temperature`` (°C), ``memory_used_percent``, ``ecc_uncorrected`` (volatile
    uncorrected ECC errors), ``xid`` (XID events seen during ``xid_window``), ``throttle``
    (any of ``throttle_reasons`` active), ``power_percent`` (draw / enforced limit),
    ``utilization`` (informational unless bands are given).
    """

    probe: ClassVar[str] = "fixtures.gpu:probe_nvml"
    kind: Literal["gpu_nvml"] = "gpu_nvml"
    host: str = Field(default="local", description="a name under gpus:")
    reading: Reading
    bands: Bands | None = None
    devices: list[int | str] | None = Field(
        default=None, description="GPU indexes or UUIDs; none: every GPU"
    )
    throttle_reasons: list[ThrottleReason] = Field(
        default_factory=lambda: _SLOWDOWNS.copy(),
        description="reasons that fail the check; sw_power_cap is normal under full load",
    )
    xid_window: Duration = "1s"

    @model_validator(mode="after")
    def _judgeable(self) -> GpuNvmlCheck:
        if self.reading == "throttle" and self.bands is not None:
            raise ValueError("throttle is judged by throttle_reasons, not bands")
        if self.reading == "xid" and not 0 < duration_seconds(self.xid_window) <= 60:
            raise ValueError("xid_window must be between 0 and 60 seconds")
        return self

    def effective_bands(self) -> Bands | None:
        """The entry's bands, else the reading's default (None: informational)."""
        return self.bands if self.bands is not None else DEFAULT_BANDS[self.reading]

    def observation_budget(self, timeout: float) -> float:
        if self.reading == "xid":
            return duration_seconds(self.xid_window) + timeout * 2
        return timeout * 2

    def references(self) -> list[tuple[str, str]]:
        return [("gpus", self.host)]

    def subject(self) -> str:
        return self.component or f"gpu/{self.host}"
