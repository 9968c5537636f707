"""Pushgateway, node_exporter and blackbox_exporter as plain processes."""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path
from typing import Any, ClassVar

import yaml

from testbed.services.binaries import require_binary
from testbed.services.network import http_ok
from testbed.services.process import ProcessService

logger = logging.getLogger(__name__)


class PushgatewayServer(ProcessService):
    """Pushgateway on 127.0.0.1; pushed groups survive a restart (persistence file).

    Push with the real client: ``prometheus_client.push_to_gateway(server.address, ...)``.
    """

    name: ClassVar[str] = "pushgateway"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "prometheus-pushgateway"),
            f"--web.listen-address={self.address}",
            f"--persistence.file={self.workdir / 'pushgateway.data'}",
        ]

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/-/ready")


class NodeExporterServer(ProcessService):
    """node_exporter on 127.0.0.1; ``*.prom`` files in ``textfile_dir`` become metrics.

    Writing a file there is how a test fakes a host fact (e.g. the last backup time).
    """

    name: ClassVar[str] = "node_exporter"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.textfile_dir = self.workdir / "textfile"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> None:
        self.textfile_dir.mkdir(exist_ok=True)

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "prometheus-node-exporter"),
            f"--web.listen-address={self.address}",
            f"--collector.textfile.directory={self.textfile_dir}",
            # No systemd here: the collector would only log D-Bus errors.
            "--no-collector.systemd",
        ]

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/metrics")


class BlackboxExporterServer(ProcessService):
    """blackbox_exporter on 127.0.0.1 with modules ``http_2xx``, ``tcp_connect`` and,
    when a CA file is given, ``https_test_ca`` that verifies against it.
    """

    name: ClassVar[str] = "blackbox_exporter"

    def __init__(self, workdir: Path, port: int | None = None, ca_file: Path | None = None) -> None:
        super().__init__(workdir, port)
        self.ca_file = ca_file

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "blackbox.yml"

    def probe_url(self, target: str, module: str = "http_2xx") -> str:
        """The ``/probe`` URL that makes the exporter probe ``target`` with ``module``."""
        query = urllib.parse.urlencode({"target": target, "module": module})
        return f"{self.url}/probe?{query}"

    def prepare(self) -> None:
        modules: dict[str, Any] = {
            "http_2xx": {"prober": "http", "timeout": "5s"},
            "tcp_connect": {"prober": "tcp", "timeout": "5s"},
        }
        if self.ca_file is not None:
            modules["https_test_ca"] = {
                "prober": "http",
                "timeout": "5s",
                "http": {"fail_if_not_ssl": True, "tls_config": {"ca_file": str(self.ca_file)}},
            }
        self.config_path.write_text(yaml.safe_dump({"modules": modules}, sort_keys=False))

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "prometheus-blackbox-exporter"),
            f"--config.file={self.config_path}",
            f"--web.listen-address={self.address}",
        ]

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/-/healthy")


def start_pushgateway(
    workdir: Path, port: int | None = None, timeout: float | None = None
) -> PushgatewayServer:
    """Start Pushgateway under ``workdir`` and return it ready."""
    return PushgatewayServer(workdir, port).start(timeout)


def start_node_exporter(
    workdir: Path, port: int | None = None, timeout: float | None = None
) -> NodeExporterServer:
    """Start node_exporter under ``workdir`` and return it ready."""
    return NodeExporterServer(workdir, port).start(timeout)


def start_blackbox_exporter(
    workdir: Path,
    ca_file: Path | None = None,
    port: int | None = None,
    timeout: float | None = None,
) -> BlackboxExporterServer:
    """Start blackbox_exporter under ``workdir`` and return it ready."""
    return BlackboxExporterServer(workdir, port, ca_file).start(timeout)
