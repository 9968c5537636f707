"""Alertmanager as a plain process, clustering off, optionally notifying a webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml

from testbed.services.binaries import require_binary
from testbed.services.errors import ServiceRequestError
from testbed.services.network import http_ok, http_request
from testbed.services.process import ProcessService

logger = logging.getLogger(__name__)

API_TIMEOUT_S = 2.0


class AlertmanagerServer(ProcessService):
    """Alertmanager on 127.0.0.1 with one receiver; a webhook is called when ``webhook_url``.

    Example::

        am = start_alertmanager(tmp_path)
        am.post_alerts([{"labels": {"alertname": "DiskFull"}}])
        [alert["labels"]["alertname"] for alert in am.alerts()]
    """

    name: ClassVar[str] = "alertmanager"

    def __init__(
        self, workdir: Path, port: int | None = None, webhook_url: str | None = None
    ) -> None:
        super().__init__(workdir, port)
        self.webhook_url = webhook_url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "alertmanager.yml"

    def prepare(self) -> None:
        receiver: dict[str, Any] = {"name": "default"}
        if self.webhook_url is not None:
            receiver["webhook_configs"] = [{"url": self.webhook_url, "send_resolved": True}]
        config = {
            # Short waits so a notification follows an alert within a test's patience.
            "route": {
                "receiver": "default",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [receiver],
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "prometheus-alertmanager"),
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            # An empty address turns clustering off: no gossip port to pick or collide on.
            "--cluster.listen-address=",
        ]

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST alerts to ``/api/v2/alerts`` (each needs ``labels``; times are optional)."""
        response = http_request(
            f"{self.url}/api/v2/alerts",
            method="POST",
            body=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            timeout=API_TIMEOUT_S,
        )
        if response.status != 200:
            raise ServiceRequestError(
                self.name, "POST /api/v2/alerts", response.status, response.text
            )

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now, from ``GET /api/v2/alerts``."""
        response = http_request(f"{self.url}/api/v2/alerts", timeout=API_TIMEOUT_S)
        alerts: list[dict[str, Any]] = json.loads(response.body)
        return alerts


def start_alertmanager(
    workdir: Path,
    webhook_url: str | None = None,
    port: int | None = None,
    timeout: float | None = None,
) -> AlertmanagerServer:
    """Start Alertmanager under ``workdir`` and return it ready."""
    return AlertmanagerServer(workdir, port, webhook_url).start(timeout)
