"""GPU checks: NVML (the real pynvml, and the testbed's simulation), DCGM exporter, and the
AEGIS-C hardware service.

This machine has no GPU. One check runs with the REAL pynvml and must be an error saying so
(never a pass); the others read simulations, and say so: ``testbed.nvml_sim.SimulatedNvml``
registered as ``nvml: sim`` by the testbed part ``gpu``, its simulated dcgm-exporter, and
the seed 000 hardware simulator. The end-to-end run starts them inside Vigil's own process,
as the demo does, with GPU 0 at 90 °C and GPU 1 carrying ECC errors, a pending XID and a
thermal slowdown; GPU 2 is healthy.
"""

from __future__ import annotations

import ctypes.util
import importlib
import warnings
from typing import Any

import pynvml
import pytest

from fixtures.gpu import (
    NO_GPU,
    nvml_module,
    read_snapshot,
    register_nvml,
    require_support,
    watch_xids,
)
from fixtures.observe import ObservationError
from fixtures.verdict import CheckFailure
from plugins.schema.gpu import GpuNvmlCheck
from testbed.nvml_sim import GpuState, SimulatedNvml
from testbed.parts.gpu import healthy_gpus
from tests.support import VigilRun, run_vigil

pytestmark = pytest.mark.integration

GPU0 = "GPU-5f0c2a61-8e4b-4c1e-9a53-0d6e1b7c2f01"
GPU1 = "GPU-9b2d7e44-31c6-4f0a-8d2e-6a1c5b3e9f02"
GPU2 = "GPU-2e8f1c93-7a4d-4b6e-b1f5-3c9d0a2e4f03"
HAS_DRIVER = ctypes.util.find_library("nvidia-ml") is not None


def nvml(reading: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "gpu_nvml", "reading": reading, "severity": "high", **extra}


def dcgm(metric: str, crit: float, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "metric_threshold",
        "scrape": {"url": "${DCGM_EXPORTER_METRICS_URL}"},
        "metric": metric,
        "aggregate": "max",
        "bands": {"crit": crit},
        **extra,
    }


ENVIRONMENT: dict[str, Any] = {
    "name": "gpu-test",
    "testbed": {
        "start": ["sim", "gpu"],
        "faults": {
            "aegis-c-hardware": [
                {"kind": "metric", "params": {"name": "temperature_c", "value": 90, "gpu": 0}}
            ]
        },
        "options": {
            "gpu": {
                "count": 3,
                "set": {
                    0: {"temperature_c": 90},
                    1: {
                        "ecc_uncorrected_volatile": 2,
                        "pending_xids": [48],
                        "throttle": ["hw_thermal_slowdown", "sw_power_cap"],
                    },
                },
            }
        },
    },
    "gpus": {
        "local": {"nvml": "${GPU_NVML}", "expected_count": 3},
        "real": {"nvml": "pynvml"},
        "no-driver": {"nvml": "testbed.parts.gpu:no_driver_nvml"},
    },
    "services": {"aegis-c-hardware": {"url": "${VIGIL_SIM_AEGIS_C_HARDWARE_URL}"}},
    "checks": {
        "real-temperature": nvml("temperature", host="real"),
        "no-driver-temperature": nvml("temperature", host="no-driver"),
        "temperature": nvml(
            "temperature", bands={"crit": 85, "unit": " °C"}, respond_within="immediate"
        ),
        "healthy-temperature": nvml("temperature", devices=[1, GPU2]),
        "memory": nvml("memory_used_percent"),
        "ecc": nvml("ecc_uncorrected"),
        "ecc-healthy": nvml("ecc_uncorrected", devices=[0, 2]),
        "xid": nvml("xid", xid_window="300ms"),
        "throttle": nvml("throttle"),
        "throttle-healthy": nvml("throttle", devices=[0, 2]),
        "power": nvml("power_percent"),
        "utilization": nvml("utilization"),
        "dcgm-temperature": dcgm("DCGM_FI_DEV_GPU_TEMP", 85, severity="high"),
        "dcgm-temperature-gpu2": dcgm("DCGM_FI_DEV_GPU_TEMP", 85, labels={"gpu": "2"}),
        "dcgm-xid": dcgm("DCGM_FI_DEV_XID_ERRORS", 0),
        "dcgm-ecc": dcgm("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 0),
        "hardware-temperature": {
            "kind": "http_json_threshold",
            "service": "aegis-c-hardware",
            "path": "/metrics",
            "field": "gpus[*].temperature_c",
            "bands": {"crit": 85, "unit": " °C"},
            "severity": "high",
        },
        "hardware-status": {
            "kind": "http_health",
            "service": "aegis-c-hardware",
            "path": "/status",
        },
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> VigilRun:
    return run_vigil(
        tmp_path_factory.mktemp("gpu"),
        ENVIRONMENT,
        "checks/test_gpu.py",
        "checks/test_metrics.py",
        "checks/test_http.py",
    )


def test_real_pynvml_reports_the_missing_gpu_as_an_error(run: VigilRun) -> None:
    """The real nvidia-ml-py on this machine: no driver, so an error with that reason."""
    result = run.result("real-temperature")
    if HAS_DRIVER:  # a GPU host (CI with a GPU): the real reading must have been judged
        assert result["outcome"] in ("passed", "failed"), result
        return
    assert result["outcome"] == "error"
    assert result["message"] == f"cannot observe: gpus real: {NO_GPU}"


def test_simulated_host_without_driver_is_an_error(run: VigilRun) -> None:
    """Simulation (SimulatedNvml.no_gpu) through the module:function seam."""
    result = run.result("no-driver-temperature")
    assert result["outcome"] == "error"
    assert NO_GPU in result["message"]


def test_gpu_at_90_fails_with_the_runbook_severity(run: VigilRun) -> None:
    """Simulation: GPU 0 at 90 °C; 'GPU temperature > 85°C: Alert immediately'."""
    result = run.result("temperature")
    assert result["outcome"] == "failed"
    assert result["severity"] == "high"
    assert result["message"] == f"gpus local GPU 0 ({GPU0}) temperature = 90 °C > crit 85 °C"
    assert run.result("healthy-temperature")["outcome"] == "passed"


def test_ecc_errors_fail_naming_the_gpu(run: VigilRun) -> None:
    """Simulation: GPU 1 has 2 volatile uncorrected ECC errors."""
    result = run.result("ecc")
    assert result["outcome"] == "failed"
    assert (
        f"GPU 1 ({GPU1}) volatile uncorrected ECC = 2 errors > crit 0 errors" in result["message"]
    )
    assert "GPU 0" not in result["message"] and "GPU 2" not in result["message"]
    assert run.result("ecc-healthy")["outcome"] == "passed"


def test_pending_xid_fails(run: VigilRun) -> None:
    """Simulation: XID 48 (double-bit ECC) pending on GPU 1, delivered by the event set."""
    result = run.result("xid")
    assert result["outcome"] == "failed"
    assert f"GPU 1 ({GPU1}) XID events in 300ms [48] = 1 > crit 0" in result["message"]


def test_thermal_slowdown_fails_but_power_cap_alone_does_not(run: VigilRun) -> None:
    """Simulation: GPU 1 held down by hw_thermal_slowdown (and sw_power_cap, which is normal)."""
    result = run.result("throttle")
    assert result["outcome"] == "failed"
    assert result["severity"] == "high"
    assert f"GPU 1 ({GPU1}) clocks held down by hw_thermal_slowdown" in result["message"]
    assert "sw_power_cap" not in result["message"].split("held down by")[1]
    assert run.result("throttle-healthy")["outcome"] == "passed"


def test_healthy_readings_pass(run: VigilRun) -> None:
    for name in ("memory", "power", "utilization", "hardware-status", "dcgm-temperature-gpu2"):
        assert run.result(name)["outcome"] == "passed", run.result(name)


def test_dcgm_exporter_shows_the_same_faults(run: VigilRun) -> None:
    """Simulation: the dcgm-exporter serves the same GPU states over HTTP."""
    temperature = run.result("dcgm-temperature")
    assert temperature["outcome"] == "failed"
    assert temperature["message"] == "DCGM_FI_DEV_GPU_TEMP = 90 > crit 85"
    assert run.result("dcgm-xid")["outcome"] == "failed"
    assert run.result("dcgm-ecc")["outcome"] == "failed"


def test_hardware_service_names_the_hot_gpu(run: VigilRun) -> None:
    """Simulation of the AEGIS-C hardware service on :8016 (testbed.sim)."""
    result = run.result("hardware-temperature")
    assert result["outcome"] == "failed"
    assert result["severity"] == "high"
    assert "gpus[0].temperature_c = 90 °C > crit 85 °C" in result["message"]
    assert "gpus[1]" not in result["message"]


# --- the probe and the check driven directly (simulation, in this process) ---------------


def record(name: str, value: object) -> None:
    """A stand-in for pytest's record_property."""


def judge(check: GpuNvmlCheck, nvml_module_: Any) -> None:
    """Probe (read_snapshot) and the real check function, in this process."""
    with warnings.catch_warnings():
        # Vigil's plugin registers the 'kind' marker; the suite's configuration does not.
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        gpu_checks = importlib.import_module("checks.test_gpu")
    snapshot = read_snapshot(nvml_module_, "local")
    gpu_checks.test_gpu_nvml(check, snapshot, record)


def test_real_pynvml_in_process() -> None:
    """The real pynvml: read_snapshot raises the no-GPU reason here (a reading on a GPU host)."""
    if HAS_DRIVER:
        assert read_snapshot(pynvml, "real").count >= 1
        return
    with pytest.raises(ObservationError) as raised:
        read_snapshot(pynvml, "real")
    assert raised.value.reason == f"gpus real: {NO_GPU}"


def test_lost_gpu_fails_and_names_it() -> None:
    gpus = healthy_gpus(2)
    gpus[1].lost = True
    with pytest.raises(CheckFailure) as failed:
        judge(GpuNvmlCheck(reading="temperature"), SimulatedNvml(gpus))
    assert failed.value.message == (
        # A GPU off the bus cannot even tell its UUID.
        "gpus local: GPU 1 (unknown UUID) lost (fell off the bus: NVMLError_GpuIsLost)"
    )


def test_power_near_the_limit_is_the_warn_band() -> None:
    gpus = healthy_gpus(1)
    gpus[0].power_usage_mw = 388_000  # 97 % of 400 W
    with pytest.raises(CheckFailure) as failed:
        judge(GpuNvmlCheck(reading="power_percent"), SimulatedNvml(gpus))
    assert failed.value.band == "warn"
    assert "power (388/400 W) = 97% of the power limit > warn 95" in failed.value.message


def test_memory_percent_counts_reserved_memory() -> None:
    gpus = [GpuState(uuid=GPU0, memory_used_bytes=37 * 1024**3, memory_reserved_bytes=1024**3)]
    with pytest.raises(CheckFailure) as failed:
        judge(GpuNvmlCheck(reading="memory_used_percent"), SimulatedNvml(gpus))
    assert "memory used (38.0/40 GiB) = 95% > warn 90%" in failed.value.message


def test_xid_events_are_consumed_once() -> None:
    """Simulation: an XID is reported by the first watch, not again by the next one."""
    simulation = SimulatedNvml(healthy_gpus(2))
    simulation.inject_xid(1, 79)
    first = watch_xids(simulation, "local", 0.2)
    assert first.xids == {1: [79]}
    assert watch_xids(simulation, "local", 0.1).xids == {}


def test_unsupported_ecc_everywhere_is_an_error() -> None:
    gpus = healthy_gpus(1)
    gpus[0].ecc_uncorrected_volatile = None
    snapshot = read_snapshot(SimulatedNvml(gpus), "local")
    assert snapshot.gpus[0].ecc_uncorrected is None
    with pytest.raises(ObservationError, match="ECC is not supported or not enabled"):
        require_support(snapshot, GpuNvmlCheck(reading="ecc_uncorrected"))


def test_nvml_seam() -> None:
    assert nvml_module("pynvml") is pynvml
    simulation = SimulatedNvml(healthy_gpus(1))
    unregister = register_nvml("unit-sim", lambda: simulation)
    try:
        assert nvml_module("unit-sim") is simulation
    finally:
        unregister()
    with pytest.raises(ObservationError, match="'unit-sim' is not registered"):
        nvml_module("unit-sim")
    assert isinstance(nvml_module("testbed.parts.gpu:no_driver_nvml"), SimulatedNvml)
    with pytest.raises(ValueError, match="reserved"):
        register_nvml("pynvml", lambda: simulation)


def test_schema_rejects_bands_on_throttle() -> None:
    with pytest.raises(ValueError, match="throttle_reasons"):
        GpuNvmlCheck(reading="throttle", bands={"crit": 1})
