"""GPU simulations: NVML (testbed.nvml_sim) and the DCGM exporter (testbed.dcgm_exporter).

These are simulations (this machine has no GPU). The NVML tests call the simulation through
the function names the real pynvml has and check that the errors are pynvml's own classes;
the DCGM tests scrape ``/metrics`` over HTTP and parse it with prometheus_client's parser.
"""

from __future__ import annotations

import ctypes.util
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pynvml
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed.dcgm_exporter import DcgmExporterSim, start_dcgm_exporter
from testbed.nvml_sim import GpuState, SimulatedNvml

GIB = 1024**3
MIB = 1024**2


def hottest_gpu(nvml: Any) -> tuple[str, int]:
    """A GPU probe written against the pynvml API, as a check would be (module passed in)."""
    nvml.nvmlInit()
    try:
        readings = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            temperature = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            readings.append((nvml.nvmlDeviceGetUUID(handle), temperature))
        return max(readings, key=lambda reading: reading[1])
    finally:
        nvml.nvmlShutdown()


@pytest.fixture
def nvml() -> Iterator[SimulatedNvml]:
    simulation = SimulatedNvml(
        [
            GpuState(uuid="GPU-00000000-0000-0000-0000-000000000000"),
            GpuState(
                uuid="GPU-11111111-1111-1111-1111-111111111111",
                temperature_c=91,
                memory_used_bytes=30 * GIB,
                memory_reserved_bytes=512 * MIB,
                utilization_gpu=97,
                utilization_memory=61,
                power_usage_mw=387_500,
                ecc_uncorrected_volatile=2,
                clocks_event_reasons=pynvml.nvmlClocksEventReasonHwThermalSlowdown
                | pynvml.nvmlClocksEventReasonSwPowerCap,
                pending_xids=[48],
            ),
        ]
    )
    simulation.nvmlInit()
    yield simulation
    simulation.nvmlShutdown()


# --- the real library on this machine ------------------------------------------------------------


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver"
)
def test_real_pynvml_without_driver_raises_library_not_found() -> None:
    with pytest.raises(pynvml.NVMLError_LibraryNotFound) as real:
        pynvml.nvmlInit()
    with pytest.raises(pynvml.NVMLError) as simulated:
        SimulatedNvml.no_gpu().nvmlInit()
    assert type(simulated.value) is type(real.value)
    assert simulated.value.value == real.value.value == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND


# --- lifecycle and error classes -----------------------------------------------------------------


def test_no_gpu_mode_matches_a_machine_without_driver() -> None:
    simulation = SimulatedNvml.no_gpu()
    with pytest.raises(pynvml.NVMLError_LibraryNotFound):
        simulation.nvmlInit()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        simulation.nvmlDeviceGetCount()


def test_calls_need_init_and_shutdown_is_reference_counted() -> None:
    simulation = SimulatedNvml([GpuState()])
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        simulation.nvmlDeviceGetCount()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        simulation.nvmlShutdown()
    simulation.nvmlInit()
    simulation.nvmlInit()
    simulation.nvmlShutdown()
    assert simulation.nvmlDeviceGetCount() == 1
    simulation.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        simulation.nvmlDeviceGetCount()


def test_init_error_reproduces_a_driver_that_is_not_loaded() -> None:
    simulation = SimulatedNvml([GpuState()], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    with pytest.raises(pynvml.NVMLError_DriverNotLoaded):
        simulation.nvmlInit()


def test_simulation_is_a_module_with_pynvml_constants() -> None:
    simulation = SimulatedNvml([])
    assert isinstance(simulation, types.ModuleType)
    assert simulation.NVML_TEMPERATURE_GPU == pynvml.NVML_TEMPERATURE_GPU
    assert (
        simulation.NVML_MEMORY_ERROR_TYPE_UNCORRECTED == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
    )
    assert (
        simulation.nvmlClocksThrottleReasonHwSlowdown == pynvml.nvmlClocksThrottleReasonHwSlowdown
    )
    assert simulation.NVMLError_GpuIsLost is pynvml.NVMLError_GpuIsLost
    with pytest.raises(AttributeError, match="nvmlDeviceGetFanSpeed is a pynvml function"):
        simulation.nvmlDeviceGetFanSpeed  # noqa: B018


def test_a_probe_written_for_pynvml_runs_on_the_simulation(nvml: SimulatedNvml) -> None:
    assert hottest_gpu(nvml) == ("GPU-11111111-1111-1111-1111-111111111111", 91)


# --- device queries ------------------------------------------------------------------------------


def test_device_identity_and_handles(nvml: SimulatedNvml) -> None:
    assert nvml.nvmlDeviceGetCount() == 2
    handle = nvml.nvmlDeviceGetHandleByIndex(1)
    assert isinstance(handle, pynvml.c_nvmlDevice_t)
    assert nvml.nvmlDeviceGetName(handle) == "NVIDIA A100-SXM4-40GB"
    uuid = nvml.nvmlDeviceGetUUID(handle)
    assert nvml.nvmlDeviceGetIndex(nvml.nvmlDeviceGetHandleByUUID(uuid)) == 1
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        nvml.nvmlDeviceGetHandleByIndex(2)
    with pytest.raises(pynvml.NVMLError_NotFound):
        nvml.nvmlDeviceGetHandleByUUID("GPU-does-not-exist")


def test_temperature_memory_utilisation_power(nvml: SimulatedNvml) -> None:
    handle = nvml.nvmlDeviceGetHandleByIndex(1)
    assert nvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU) == 91
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        nvml.nvmlDeviceGetTemperature(handle, 7)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    assert isinstance(memory, pynvml.c_nvmlMemory_t)
    assert memory.total == 40 * GIB
    assert memory.used + memory.free == memory.total
    assert memory.used == 30 * GIB + 512 * MIB  # v1 counts reserved memory as used
    v2 = nvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
    assert (v2.used, v2.reserved) == (30 * GIB, 512 * MIB)
    utilisation = nvml.nvmlDeviceGetUtilizationRates(handle)
    assert (utilisation.gpu, utilisation.memory) == (97, 61)
    assert nvml.nvmlDeviceGetPowerUsage(handle) == 387_500
    assert nvml.nvmlDeviceGetEnforcedPowerLimit(handle) == 400_000


def test_ecc_counters_and_clock_event_reasons(nvml: SimulatedNvml) -> None:
    handle = nvml.nvmlDeviceGetHandleByIndex(1)
    uncorrected = nvml.nvmlDeviceGetTotalEccErrors(
        handle, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC
    )
    assert uncorrected == 2
    reasons = nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
    assert reasons == nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
    assert reasons & pynvml.nvmlClocksThrottleReasonHwThermalSlowdown
    assert not reasons & pynvml.nvmlClocksThrottleReasonHwPowerBrakeSlowdown
    idle = nvml.nvmlDeviceGetHandleByIndex(0)
    assert nvml.nvmlDeviceGetCurrentClocksEventReasons(idle) == pynvml.nvmlClocksEventReasonNone


def test_unsupported_queries_raise_not_supported(nvml: SimulatedNvml) -> None:
    nvml.gpu(0).power_usage_mw = None
    nvml.gpu(0).ecc_uncorrected_volatile = None
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        nvml.nvmlDeviceGetPowerUsage(handle)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        nvml.nvmlDeviceGetTotalEccErrors(
            handle, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC
        )


def test_lost_gpu_raises_gpu_is_lost(nvml: SimulatedNvml) -> None:
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    nvml.gpu(0).lost = True
    with pytest.raises(pynvml.NVMLError_GpuIsLost):
        nvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
    assert nvml.nvmlDeviceGetTemperature(nvml.nvmlDeviceGetHandleByIndex(1), 0) == 91


def test_foreign_handle_is_an_invalid_argument(nvml: SimulatedNvml) -> None:
    stranger = pynvml.c_nvmlDevice_t(pynvml.struct_c_nvmlDevice_t())
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        nvml.nvmlDeviceGetName(stranger)


# --- XID events ----------------------------------------------------------------------------------


def test_xid_events_are_delivered_then_wait_times_out(nvml: SimulatedNvml) -> None:
    events = nvml.nvmlEventSetCreate()
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        nvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, events)
    event = nvml.nvmlEventSetWait_v2(events, 100)
    assert isinstance(event, pynvml.c_nvmlEventData_t)
    assert (event.eventType, event.eventData) == (pynvml.nvmlEventTypeXidCriticalError, 48)
    assert nvml.nvmlDeviceGetIndex(event.device) == 1
    started = time.monotonic()
    with pytest.raises(pynvml.NVMLError_Timeout):
        nvml.nvmlEventSetWait_v2(events, 50)
    assert 0.04 <= time.monotonic() - started < 1.0
    nvml.nvmlEventSetFree(events)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        nvml.nvmlEventSetWait_v2(events, 0)


def test_waiting_event_set_wakes_on_an_injected_xid(nvml: SimulatedNvml) -> None:
    events = nvml.nvmlEventSetCreate()
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    nvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, events)
    timer = threading.Timer(0.05, nvml.inject_xid, args=(0, 79))
    timer.start()
    started = time.monotonic()
    event = nvml.nvmlEventSetWait(events, 5000)
    timer.join()
    assert event.eventData == 79
    assert time.monotonic() - started < 1.0
    assert nvml.gpu(0).last_xid == 79


def test_events_are_only_delivered_to_registered_devices(nvml: SimulatedNvml) -> None:
    events = nvml.nvmlEventSetCreate()
    nvml.nvmlDeviceRegisterEvents(
        nvml.nvmlDeviceGetHandleByIndex(0), pynvml.nvmlEventTypeXidCriticalError, events
    )
    with pytest.raises(pynvml.NVMLError_Timeout):
        nvml.nvmlEventSetWait_v2(events, 0)  # GPU 1's pending XID 48 is not ours
    assert nvml.gpu(1).pending_xids == [48]


# --- DCGM exporter -------------------------------------------------------------------------------


@pytest.fixture
def dcgm() -> Iterator[DcgmExporterSim]:
    gpus = [
        GpuState(uuid="GPU-aaaaaaaa-0000-0000-0000-000000000000", memory_used_bytes=2 * GIB),
        GpuState(uuid="GPU-bbbbbbbb-0000-0000-0000-000000000000", power_usage_mw=250_500),
    ]
    with start_dcgm_exporter(gpus, hostname="gpu-node-1") as exporter:
        yield exporter


def scrape(exporter: DcgmExporterSim) -> dict[str, dict[str, Any]]:
    """Return {metric name: {"type": ..., "samples": {gpu index: (labels, value)}}}."""
    with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    families: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        samples = {int(s.labels["gpu"]): (s.labels, s.value) for s in family.samples}
        families[family.name] = {"type": family.type, "samples": samples}
    return families


@pytest.mark.integration
def test_dcgm_metrics_names_labels_and_units(dcgm: DcgmExporterSim) -> None:
    families = scrape(dcgm)
    assert {
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
    } <= set(families)
    labels, temperature = families["DCGM_FI_DEV_GPU_TEMP"]["samples"][1]
    assert temperature == 34
    assert labels == {
        "gpu": "1",
        "UUID": "GPU-bbbbbbbb-0000-0000-0000-000000000000",
        "pci_bus_id": "00000000:08:00.0",
        "device": "nvidia1",
        "modelName": "NVIDIA A100-SXM4-40GB",
        "Hostname": "gpu-node-1",
    }
    assert families["DCGM_FI_DEV_FB_USED"]["samples"][0][1] == 2048  # MiB
    assert families["DCGM_FI_DEV_FB_FREE"]["samples"][0][1] == 38 * 1024
    assert families["DCGM_FI_DEV_POWER_USAGE"]["samples"][1][1] == 250.5  # W
    assert families["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"]["type"] == "counter"


@pytest.mark.integration
def test_dcgm_values_follow_set_gpu(dcgm: DcgmExporterSim) -> None:
    dcgm.set_gpu(1, temperature_c=88, last_xid=79, ecc_uncorrected_volatile=3)
    families = scrape(dcgm)
    assert families["DCGM_FI_DEV_GPU_TEMP"]["samples"][1][1] == 88
    assert families["DCGM_FI_DEV_GPU_TEMP"]["samples"][0][1] == 34
    assert families["DCGM_FI_DEV_XID_ERRORS"]["samples"][1][1] == 79
    assert families["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"]["samples"][1][1] == 3
    dcgm.set_gpu(0, lost=True)
    assert set(scrape(dcgm)["DCGM_FI_DEV_GPU_TEMP"]["samples"]) == {1}
    with pytest.raises(TypeError, match="no field"):
        dcgm.set_gpu(0, fan_speed=40)


@pytest.mark.integration
def test_dcgm_and_nvml_can_share_gpu_state(dcgm: DcgmExporterSim) -> None:
    nvml = SimulatedNvml(dcgm.gpus)
    nvml.nvmlInit()
    dcgm.set_gpu(0, temperature_c=86)
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    assert nvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU) == 86
    nvml.nvmlShutdown()


@pytest.mark.integration
def test_dcgm_unknown_path_is_404(dcgm: DcgmExporterSim) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{dcgm.url}/nope", timeout=5)
    assert caught.value.code == 404
