"""Prometheus scraping given loopback targets, with optional rules and Alertmanager."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from testbed.services.binaries import require_binary
from testbed.services.errors import ServiceRequestError, ServiceStartError
from testbed.services.network import http_ok, http_request
from testbed.services.process import ProcessService
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

API_TIMEOUT_S = 2.0
# Prometheus applies new scrape targets on a fixed 5 s tick: the first scrape lands at ~5.5 s.
FIRST_SCRAPE_TIMEOUT_S = 20.0


class PrometheusServer(ProcessService):
    """Prometheus on 127.0.0.1 with a short scrape interval and a 1 s alert resend delay.

    Start it first: its first scrape comes about 5.5 s after start, whatever the interval::

        prom = start_prometheus(tmp_path, {"app": ["127.0.0.1:8000"]})
        prom.wait_for_first_scrape()
        prom.query('up{job="app"}')
    """

    name: ClassVar[str] = "prometheus"

    def __init__(
        self,
        workdir: Path,
        scrape_targets: Mapping[str, list[str]],
        rule_files_text: str | None = None,
        alertmanager_url: str | None = None,
        scrape_interval: str = "1s",
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.scrape_targets = {job: list(targets) for job, targets in scrape_targets.items()}
        self.rule_files_text = rule_files_text
        self.alertmanager_url = alertmanager_url
        self.scrape_interval = scrape_interval

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def rules_path(self) -> Path:
        return self.workdir / "rules.yml"

    def prepare(self) -> None:
        if self.rule_files_text is not None:
            self.rules_path.write_text(self.rule_files_text)
        self.config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False))

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.scrape_targets.items()
            ],
        }
        if self.rule_files_text is not None:
            config["rule_files"] = [str(self.rules_path)]
        if self.alertmanager_url is not None:
            config["alerting"] = {"alertmanagers": [_alertmanager_config(self.alertmanager_url)]}
        return config

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--web.enable-lifecycle",
            # The default resend delay is a minute: alerts would reach Alertmanager too late.
            "--rules.alert.resend-delay=1s",
        ]

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant PromQL query and return ``data.result`` (vector samples)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        response = http_request(url, timeout=API_TIMEOUT_S)
        payload = json.loads(response.body)
        if payload.get("status") != "success":
            raise ValueError(f"query {promql!r} failed: {payload.get('error', response.status)}")
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def wait_for_first_scrape(
        self, timeout: float = FIRST_SCRAPE_TIMEOUT_S, job: str | None = None
    ) -> list[dict[str, Any]]:
        """Wait until ``up`` has a sample (of ``job``, when given); return those samples."""
        promql = f'up{{job="{job}"}}' if job is not None else "up"
        try:
            return wait_until(
                lambda: self.query(promql), timeout, interval=0.2, description=f"{promql} sampled"
            )
        except WaitTimeout as error:
            raise ServiceStartError(
                self.name, f"no scrape recorded after {timeout:.1f} s", self.log_tail()
            ) from error

    def reload(self, rule_files_text: str | None = None) -> None:
        """Rewrite the configuration (and rules, when given) and reload it in place."""
        if rule_files_text is not None:
            self.rule_files_text = rule_files_text
        self.prepare()
        response = http_request(f"{self.url}/-/reload", method="POST", timeout=API_TIMEOUT_S)
        if response.status != 200:
            raise ServiceRequestError(self.name, "POST /-/reload", response.status, response.text)


def _alertmanager_config(url: str) -> dict[str, Any]:
    parsed = urllib.parse.urlsplit(url)
    config: dict[str, Any] = {
        "scheme": parsed.scheme or "http",
        "static_configs": [{"targets": [parsed.netloc]}],
        "api_version": "v2",
    }
    if parsed.path.strip("/"):
        config["path_prefix"] = parsed.path
    return config


def start_prometheus(
    workdir: Path,
    scrape_targets: Mapping[str, list[str]],
    rule_files_text: str | None = None,
    alertmanager_url: str | None = None,
    scrape_interval: str = "1s",
    port: int | None = None,
    timeout: float | None = None,
) -> PrometheusServer:
    """Start Prometheus under ``workdir`` and return it ready (not yet scraped)."""
    server = PrometheusServer(
        workdir, scrape_targets, rule_files_text, alertmanager_url, scrape_interval, port
    )
    return server.start(timeout)
