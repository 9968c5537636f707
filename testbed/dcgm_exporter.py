"""Simulated NVIDIA DCGM exporter: ``/metrics`` in Prometheus text format, per-GPU values.

This is a simulation (no GPU here). It serves the metric names, HELP/TYPE lines, units
and labels of dcgm-exporter 3.x (``gpu``, ``UUID``, ``pci_bus_id``, ``device``,
``modelName``, ``Hostname``) on 127.0.0.1, so a Prometheus server or an HTTP check can
scrape it like the real exporter. Values come from :class:`testbed.nvml_sim.GpuState`.

Example::

    with start_dcgm_exporter([GpuState(), GpuState()]) as dcgm:
        dcgm.set_gpu(1, temperature_c=88)
        text = urllib.request.urlopen(f"{dcgm.url}/metrics", timeout=5).read()
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from testbed.nvml_sim import GpuState

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True)
class DcgmField:
    """One exported DCGM field: name, Prometheus type, HELP text and how to read it."""

    name: str
    kind: str
    help: str
    read: Callable[[GpuState], float]


# HELP texts and units as in dcgm-exporter's default counters (frame buffer in MiB,
# power in W, temperature in °C, utilisation in %).
FIELDS: tuple[DcgmField, ...] = (
    DcgmField(
        "DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", lambda g: g.temperature_c
    ),
    DcgmField(
        "DCGM_FI_DEV_POWER_USAGE",
        "gauge",
        "Power draw (in W).",
        lambda g: (g.power_usage_mw or 0) / 1000,
    ),
    DcgmField(
        "DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", lambda g: g.utilization_gpu
    ),
    DcgmField(
        "DCGM_FI_DEV_FB_FREE",
        "gauge",
        "Framebuffer memory free (in MiB).",
        lambda g: g.memory_free_bytes // _MIB,
    ),
    DcgmField(
        "DCGM_FI_DEV_FB_USED",
        "gauge",
        "Framebuffer memory used (in MiB).",
        lambda g: g.memory_used_bytes // _MIB,
    ),
    DcgmField(
        "DCGM_FI_DEV_XID_ERRORS",
        "gauge",
        "Value of the last XID error encountered.",
        lambda g: g.last_xid,
    ),
    DcgmField(
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "counter",
        "Total number of double-bit volatile ECC errors.",
        lambda g: g.ecc_uncorrected_volatile or 0,
    ),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(gpus: Sequence[GpuState], hostname: str) -> str:
    """Render the exposition text for ``gpus`` as dcgm-exporter does."""
    lines: list[str] = []
    for metric in FIELDS:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for index, gpu in enumerate(gpus):
            if gpu.lost:
                continue  # DCGM stops reporting a GPU that fell off the bus
            labels = {
                "gpu": str(index),
                "UUID": gpu.uuid,
                "pci_bus_id": gpu.pci_bus_id or f"00000000:{0x07 + index:02X}:00.0",
                "device": f"nvidia{index}",
                "modelName": gpu.name,
                "Hostname": hostname,
            }
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{metric.name}{{{rendered}}} {_format_value(metric.read(gpu))}")
    return "\n".join(lines) + "\n"


class _DcgmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _DcgmHttpServer

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            body = self.server.owner.render().encode()
            content_type = "text/plain; version=0.0.4; charset=utf-8"
            status = 200
        elif path == "/health":
            body, content_type, status = b"OK", "text/plain; charset=utf-8", 200
        else:
            body, content_type, status = b"404 page not found\n", "text/plain", 404
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("dcgm-sim %s", format % args)


class _DcgmHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: DcgmExporterSim) -> None:
        self.owner = owner
        super().__init__(address, _DcgmHandler)


class DcgmExporterSim:
    """A running simulated dcgm-exporter on 127.0.0.1."""

    def __init__(self, gpus: Sequence[GpuState], hostname: str = "dcgm-exporter-sim") -> None:
        self._gpus = list(gpus)
        self.hostname = hostname
        self._lock = threading.Lock()
        self._server = _DcgmHttpServer(("127.0.0.1", 0), self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="dcgm-exporter-sim",
            daemon=True,
        )
        self._thread.start()
        logger.info("simulated dcgm-exporter serving %d GPUs on %s", len(self._gpus), self.url)

    @property
    def gpus(self) -> list[GpuState]:
        """Return a snapshot of the exported GPU states."""
        with self._lock:
            return list(self._gpus)

    def render(self) -> str:
        """Return the current ``/metrics`` text."""
        with self._lock:
            return render_metrics(self._gpus, self.hostname)

    def set_gpu(self, index: int, **fields: Any) -> GpuState:
        """Change fields of GPU ``index`` in place (GpuState names) and return it.

        In place, so a ``SimulatedNvml`` sharing the same GpuState objects sees the change.
        """
        known = {f.name for f in dataclasses.fields(GpuState)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise TypeError(f"GpuState has no field(s) {unknown}")
        with self._lock:
            gpu = self._gpus[index]
            for name, value in fields.items():
                setattr(gpu, name, value)
            return gpu

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DcgmExporterSim:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_dcgm_exporter(
    gpus: Sequence[GpuState], hostname: str = "dcgm-exporter-sim"
) -> DcgmExporterSim:
    """Start a simulated dcgm-exporter for ``gpus``; read ``.url``, call ``.stop()``."""
    return DcgmExporterSim(gpus, hostname)
