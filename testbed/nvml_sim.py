"""Simulated NVML: pynvml's call names, constants, structures and error classes, no GPU.

This is a simulation for machines without an NVIDIA driver. ``SimulatedNvml`` is a module
object that can stand wherever ``import pynvml`` would: the functions GPU checks call have
pynvml's names and signatures, return pynvml's own ctypes structures and handle types, and
raise pynvml's own error classes (``pynvml.NVMLError_Uninitialized``, ``..._NotSupported``,
``..._GpuIsLost``, ``..._Timeout``, ``..._LibraryNotFound``), because every error is built
as ``pynvml.NVMLError(code)`` exactly as the real wrapper does. Constants and classes are
re-exported from pynvml. A pynvml function the simulation does not implement raises
AttributeError naming it rather than calling into a real driver.

``SimulatedNvml(None)`` (or ``SimulatedNvml.no_gpu()``) behaves like a machine with no
driver: ``nvmlInit()`` raises ``NVMLError_LibraryNotFound``, which is what the real pynvml
raises here (measured: about 2 ms, error code 12).

Example::

    nvml = SimulatedNvml([GpuState(temperature_c=91, clocks_event_reasons=
                                   pynvml.nvmlClocksEventReasonHwThermalSlowdown)])
    nvml.nvmlInit()
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)   # 91
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
import types
import uuid
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pynvml

logger = logging.getLogger(__name__)

_GIB = 1024**3
_NOT_APPLICABLE_ID = 0xFFFFFFFF  # gpuInstanceId/computeInstanceId outside MIG
_GENERATED_EVENT_TYPES: int = pynvml.nvmlEventTypeXidCriticalError
_SUPPORTED_EVENT_TYPES: int = (
    pynvml.nvmlEventTypeSingleBitEccError
    | pynvml.nvmlEventTypeDoubleBitEccError
    | pynvml.nvmlEventTypePState
    | pynvml.nvmlEventTypeXidCriticalError
    | pynvml.nvmlEventTypeClock
)


def _new_gpu_uuid() -> str:
    return f"GPU-{uuid.uuid4()}"


@dataclass
class GpuState:
    """Everything the simulation reports about one GPU; mutate it to change readings.

    Memory is in bytes, power in milliwatts (as NVML reports), temperature in °C,
    utilisation in percent. ``None`` for power or ECC means the board does not support
    the query (NVML answers ``NVMLError_NotSupported``). ``pending_xids`` are delivered,
    oldest first, to an event set registered for XID events; ``last_xid`` is what DCGM
    reports as ``DCGM_FI_DEV_XID_ERRORS``. ``lost`` makes every query on the device raise
    ``NVMLError_GpuIsLost`` (a GPU that fell off the bus).
    """

    name: str = "NVIDIA A100-SXM4-40GB"
    uuid: str = field(default_factory=_new_gpu_uuid)
    pci_bus_id: str = ""
    temperature_c: int = 34
    memory_total_bytes: int = 40 * _GIB
    memory_used_bytes: int = 1 * _GIB
    memory_reserved_bytes: int = 0
    utilization_gpu: int = 0
    utilization_memory: int = 0
    power_usage_mw: int | None = 62_000
    power_limit_mw: int | None = 400_000
    ecc_uncorrected_volatile: int | None = 0
    ecc_corrected_volatile: int | None = 0
    ecc_uncorrected_aggregate: int | None = 0
    ecc_corrected_aggregate: int | None = 0
    clocks_event_reasons: int = pynvml.nvmlClocksEventReasonNone
    pending_xids: list[int] = field(default_factory=list)
    last_xid: int = 0
    lost: bool = False

    @property
    def memory_free_bytes(self) -> int:
        """Return total minus used minus reserved, never negative."""
        return max(0, self.memory_total_bytes - self.memory_used_bytes - self.memory_reserved_bytes)


def _raise(code: int) -> NoReturn:
    # pynvml.NVMLError.__new__ picks the subclass for the code, as the real wrapper does.
    raise pynvml.NVMLError(code)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class _EventSet:
    pointer: Any
    struct: Any
    registrations: dict[int, int] = field(default_factory=dict)  # device index -> event mask


class SimulatedNvml(types.ModuleType):
    """A module object with pynvml's API, backed by ``GpuState`` objects instead of a driver."""

    def __init__(
        self,
        gpus: list[GpuState] | None = None,
        *,
        driver_version: str = "550.54.15",
        cuda_driver_version: int = 12040,
        init_error: int | None = None,
    ) -> None:
        super().__init__("vigil_simulated_pynvml", "Simulated NVML (see testbed.nvml_sim).")
        for name, value in vars(pynvml).items():
            if name.startswith("_"):
                continue
            if isinstance(value, int | float | str | bytes | type):
                setattr(self, name, value)
        self.gpus = gpus
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.init_error = init_error
        self._lock = threading.Condition(threading.RLock())
        self._refcount = 0
        self._device_structs: list[Any] = []
        self._handles: list[Any] = []
        self._event_sets: dict[int, _EventSet] = {}

    @classmethod
    def no_gpu(cls) -> SimulatedNvml:
        """Return a simulation of a machine without an NVIDIA driver."""
        return cls(None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("nvml") and callable(getattr(pynvml, name, None)):
            raise AttributeError(f"{name} is a pynvml function the NVML simulation does not offer")
        raise AttributeError(name)

    # --- helpers ---------------------------------------------------------------------------

    def _require_init(self) -> None:
        if self._refcount == 0:
            _raise(pynvml.NVML_ERROR_UNINITIALIZED)

    def _index_of(self, handle: Any) -> int:
        self._require_init()
        if isinstance(handle, pynvml.c_nvmlDevice_t) and handle:
            address = ctypes.addressof(handle.contents)
            for index, struct in enumerate(self._device_structs):
                if ctypes.addressof(struct) == address:
                    return index
        _raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def _gpu(self, handle: Any) -> GpuState:
        with self._lock:
            index = self._index_of(handle)
            assert self.gpus is not None  # initialised implies a GPU list
            gpu = self.gpus[index]
            if gpu.lost:
                _raise(pynvml.NVML_ERROR_GPU_IS_LOST)
            return gpu

    def gpu(self, index: int) -> GpuState:
        """Return the state of GPU ``index`` for a test to read or change."""
        if self.gpus is None:
            raise LookupError("this simulation has no GPUs (no_gpu mode)")
        return self.gpus[index]

    def inject_xid(self, index: int, xid: int) -> None:
        """Record an XID error on GPU ``index`` and wake any waiting event set."""
        with self._lock:
            gpu = self.gpu(index)
            gpu.pending_xids.append(xid)
            gpu.last_xid = xid
            self._lock.notify_all()

    # --- library lifecycle ---------------------------------------------------------------

    def nvmlInitWithFlags(self, flags: int) -> None:
        """Initialise NVML; raises like the real library when no driver is present."""
        if self.gpus is None:
            _raise(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
        if self.init_error is not None:
            _raise(self.init_error)
        with self._lock:
            if len(self._handles) != len(self.gpus):
                self._device_structs = [pynvml.struct_c_nvmlDevice_t() for _ in self.gpus]
                self._handles = [ctypes.pointer(s) for s in self._device_structs]
            self._refcount += 1
        logger.debug("simulated NVML initialised (%d GPUs)", len(self.gpus))

    def nvmlInit(self) -> None:
        """Initialise NVML (flags 0)."""
        self.nvmlInitWithFlags(0)

    def nvmlShutdown(self) -> None:
        """Release one initialisation; raises Uninitialized when none is held."""
        with self._lock:
            self._require_init()
            self._refcount -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        """Return the simulated driver version string."""
        self._require_init()
        return self.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        """Return the NVML version string (CUDA major + driver version, as NVML formats it)."""
        self._require_init()
        return f"{self.cuda_driver_version // 1000}.{self.driver_version}"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        """Return the CUDA driver version as an integer (12040 = 12.4)."""
        self._require_init()
        return self.cuda_driver_version

    # --- device discovery ----------------------------------------------------------------

    def nvmlDeviceGetCount(self) -> int:
        """Return the number of simulated GPUs."""
        self._require_init()
        return len(self._handles)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        """Return the ``c_nvmlDevice_t`` handle of GPU ``index``."""
        with self._lock:
            self._require_init()
            if not 0 <= int(index) < len(self._handles):
                _raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return self._handles[int(index)]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> Any:
        """Return the handle of the GPU with ``uuid``; NotFound if none."""
        with self._lock:
            self._require_init()
            assert self.gpus is not None
            for index, gpu in enumerate(self.gpus):
                if gpu.uuid == _text(uuid):
                    return self._handles[index]
            _raise(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: Any) -> int:
        """Return the index of the GPU behind ``handle``."""
        with self._lock:
            return self._index_of(handle)

    # --- device queries ------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: Any) -> str:
        """Return the product name."""
        return self._gpu(handle).name

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        """Return the GPU UUID (``GPU-...``)."""
        return self._gpu(handle).uuid

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        """Return the core temperature in °C for ``NVML_TEMPERATURE_GPU``."""
        gpu = self._gpu(handle)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            _raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return gpu.temperature_c

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        """Return ``c_nvmlMemory_t`` (v1: used includes reserved) or ``c_nvmlMemory_v2_t``."""
        gpu = self._gpu(handle)
        if not version:
            return pynvml.c_nvmlMemory_t(
                total=gpu.memory_total_bytes,
                free=gpu.memory_free_bytes,
                used=gpu.memory_used_bytes + gpu.memory_reserved_bytes,
            )
        if version != pynvml.nvmlMemory_v2:
            _raise(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        return pynvml.c_nvmlMemory_v2_t(
            version=version,
            total=gpu.memory_total_bytes,
            reserved=gpu.memory_reserved_bytes,
            free=gpu.memory_free_bytes,
            used=gpu.memory_used_bytes,
        )

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, errorType: int, counterType: int) -> int:
        """Return an ECC error total; NotSupported when the board has ECC off."""
        gpu = self._gpu(handle)
        counters = {
            (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC): (
                gpu.ecc_uncorrected_volatile
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_VOLATILE_ECC): (
                gpu.ecc_corrected_volatile
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_AGGREGATE_ECC): (
                gpu.ecc_uncorrected_aggregate
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_AGGREGATE_ECC): (
                gpu.ecc_corrected_aggregate
            ),
        }
        if (errorType, counterType) not in counters:
            _raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        value = counters[(errorType, counterType)]
        if value is None:
            _raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        """Return the bitmask of reasons clocks are held down (nvmlClocksEventReason*)."""
        return self._gpu(handle).clocks_event_reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        """Return the same bitmask under its older name (nvmlClocksThrottleReason*)."""
        return self._gpu(handle).clocks_event_reasons

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        """Return power draw in milliwatts."""
        gpu = self._gpu(handle)
        if gpu.power_usage_mw is None:
            _raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu.power_usage_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        """Return the enforced power limit in milliwatts."""
        gpu = self._gpu(handle)
        if gpu.power_limit_mw is None:
            _raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu.power_limit_mw

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        """Return ``c_nvmlUtilization_t`` with ``gpu`` and ``memory`` percentages."""
        gpu = self._gpu(handle)
        return pynvml.c_nvmlUtilization_t(gpu=gpu.utilization_gpu, memory=gpu.utilization_memory)

    # --- events --------------------------------------------------------------------------

    def nvmlEventSetCreate(self) -> Any:
        """Return a new ``c_nvmlEventSet_t``."""
        with self._lock:
            self._require_init()
            struct = pynvml.struct_c_nvmlEventSet_t()
            pointer = ctypes.pointer(struct)
            self._event_sets[ctypes.addressof(struct)] = _EventSet(pointer, struct)
            return pointer

    def _event_set(self, event_set: Any) -> _EventSet:
        self._require_init()
        if isinstance(event_set, pynvml.c_nvmlEventSet_t) and event_set:
            found = self._event_sets.get(ctypes.addressof(event_set.contents))
            if found is not None:
                return found
        _raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def nvmlDeviceGetSupportedEventTypes(self, handle: Any) -> int:
        """Return the event types a device can register for."""
        self._gpu(handle)
        return _SUPPORTED_EVENT_TYPES

    def nvmlDeviceRegisterEvents(self, handle: Any, eventTypes: int, eventSet: Any) -> None:
        """Register ``eventTypes`` of the device with ``eventSet``."""
        with self._lock:
            self._gpu(handle)
            index = self._index_of(handle)
            if eventTypes & ~_SUPPORTED_EVENT_TYPES:
                _raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
            registered = self._event_set(eventSet).registrations
            registered[index] = registered.get(index, 0) | eventTypes

    def nvmlEventSetWait_v2(self, eventSet: Any, timeoutms: int) -> Any:
        """Return the next XID event as ``c_nvmlEventData_t``; NVMLError_Timeout if none."""
        deadline = time.monotonic() + max(0, timeoutms) / 1000
        with self._lock:
            event_set = self._event_set(eventSet)
            while True:
                event = self._next_event(event_set)
                if event is not None:
                    return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _raise(pynvml.NVML_ERROR_TIMEOUT)
                self._lock.wait(remaining)

    def nvmlEventSetWait(self, eventSet: Any, timeoutms: int) -> Any:
        """Alias of ``nvmlEventSetWait_v2``, as in pynvml."""
        return self.nvmlEventSetWait_v2(eventSet, timeoutms)

    def _next_event(self, event_set: _EventSet) -> Any:
        assert self.gpus is not None
        for index, mask in sorted(event_set.registrations.items()):
            gpu = self.gpus[index]
            if mask & _GENERATED_EVENT_TYPES and gpu.pending_xids:
                return pynvml.c_nvmlEventData_t(
                    device=self._handles[index],
                    eventType=pynvml.nvmlEventTypeXidCriticalError,
                    eventData=gpu.pending_xids.pop(0),
                    gpuInstanceId=_NOT_APPLICABLE_ID,
                    computeInstanceId=_NOT_APPLICABLE_ID,
                )
        return None

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        """Release an event set."""
        with self._lock:
            event_set = self._event_set(eventSet)
            del self._event_sets[ctypes.addressof(event_set.struct)]
