"""Real Prometheus scraping the simulators, with the runbooks' alert rules and Alertmanager.

Starts, on loopback and free ports: Prometheus (first: its first scrape comes ~5.5 s after
start), Alertmanager (Prometheus' alert receiver), Pushgateway and node_exporter, all scraped.
Prometheus' TSDB is first backfilled with ``promtool`` with a week of history for the memory
gauges and counters the runbooks trend, so ``query_range`` over 24 h or 7 days has data; the
live scrapes continue those series. It returns once every target was scraped twice (rates
have two samples) and the always-firing ``Watchdog`` alert has reached Alertmanager.

Needs the ``sim`` part started first (its ``VIGIL_SIM_<NAME>_URL`` variables are the targets).
Options (``testbed.options.prometheus``):
    history_days: 7          days of backfilled history (0: none)
    leak: [aegis-backend]    jobs whose memory history rises over the last 24 h (a leak)
    node_exporter: true      also run and scrape node_exporter
    maintenance_silence: true  silence HighLatency for 2 h ("Planned maintenance - [TICKET-123]")
    scrape: {job: [host:port]}  extra scrape targets (other parts' exporters)
    flat_routing: false      one receiver for every alert (no severity routes: a fault)
Variables: PROMETHEUS_URL, ALERTMANAGER_URL, PUSHGATEWAY_URL, NODE_EXPORTER_URL.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from testbed.demo import RunningTestbed, TestbedError, variable_name
from testbed.services import (
    AlertmanagerServer,
    NodeExporterServer,
    PrometheusServer,
    PushgatewayServer,
    ServiceStartError,
    find_binary,
    free_port,
)
from testbed.services.network import http_request
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

# Simulators that serve Prometheus /metrics, and the job each is scraped as (the Aureus
# deployments keep their Kubernetes app names, as their Loki streams do).
SCRAPE_JOBS = {
    "aegis-c-detector": "aegis-c-detector",
    "aegis-backend": "aegis-backend",
    "aegis-ai-engine": "aegis-ai-engine",
    "aegis-executor": "aegis-executor",
    "aegis-frontend": "aegis-frontend",
    "aureus-bridge": "bridge",
    "aureus-os": "aureus-os",
    "aureus-openclaw": "openclaw",
    "anomaly-detector": "anomaly-detector",
}
READY_TIMEOUT_S = 30.0
PROMTOOL_TIMEOUT_S = 60.0
# Counters need samples closer than the 5m of the runbooks' rate(...[5m]); gauges do not.
COUNTER_STEP_S = 60
GAUGE_STEP_S = 300
GAUGE_HISTORY_GAP_S = 120
# The simulated daemons' counters start at a few minutes' worth, as if just restarted; the
# previous instance's counters end over an hour back, so no [5m] or [1h] window at "now"
# spans the restart (whose reset would add the new start value to every increase()).
COUNTER_HISTORY_GAP_S = 3900
INSTALL_HINT = "run scripts/install-services.sh"

# The alert rules the runbooks describe (seed 001's alerts.yml names, seed 000's thresholds,
# seed 003's HighLatency and critical/warning labels, seed 004's alert lines), as a team
# would write them. The Watchdog always fires: its arrival in Alertmanager proves the
# pipeline end to end (kube-prometheus' convention).
RULES = """\
groups:
  - name: aegis
    rules:
      - alert: HighApiErrorRate
        expr: |
          sum(rate(http_requests_total{job="aegis-backend",status_code=~"5.."}[5m]))
            / sum(rate(http_requests_total{job="aegis-backend"}[5m])) > 0.05
        for: 5m
        labels: {severity: critical, team: aegis}
        annotations:
          summary: Aegis API 5xx ratio is {{ $value | humanizePercentage }}
      - alert: HighApiLatency
        expr: |
          histogram_quantile(0.99,
            sum by (le) (rate(http_request_duration_seconds_bucket{job="aegis-backend"}[5m]))) > 1
        for: 10m
        labels: {severity: warning, team: aegis}
        annotations:
          summary: Aegis API P99 latency is {{ $value | humanizeDuration }}
      - alert: HighRateLimitHits
        expr: sum(rate(aegis_rate_limit_hits_total{job="aegis-backend"}[5m])) > 1
        for: 10m
        labels: {severity: warning, team: aegis}
        annotations:
          summary: "{{ $value | humanize }} requests/s refused by the rate limiter"
      - alert: HighAiInferenceLatency
        expr: |
          histogram_quantile(0.95,
            sum by (le) (rate(ai_inference_duration_seconds_bucket{job="aegis-ai-engine"}[5m]))) > 1
        for: 10m
        labels: {severity: warning, team: aegis}
        annotations:
          summary: AI inference P95 latency is {{ $value | humanizeDuration }}
      - alert: ExecutorActionFailures
        expr: sum(increase(executor_actions_total{job="aegis-executor",status="failed"}[15m])) > 0
        for: 1m
        labels: {severity: warning, team: aegis}
        annotations:
          summary: "{{ $value | humanize }} executor actions failed in 15 minutes"
  - name: aegis-c
    rules:
      - alert: DetectorDown
        expr: up{job="aegis-c-detector"} == 0
        labels: {severity: critical, level: "1"}
        annotations:
          summary: "Detector health check failing: alert immediately"
      - alert: DetectorErrorRateHigh
        expr: |
          sum(rate(aegis_detector_requests_total{job="aegis-c-detector",status=~"5.."}[5m]))
            / sum(rate(aegis_detector_requests_total{job="aegis-c-detector"}[5m])) > 0.05
        for: 2m
        labels: {severity: critical, level: "1"}
        annotations:
          summary: Detector error rate {{ $value | humanizePercentage }} (> 5%)
      - alert: DetectorSlowResponses
        expr: aegis_detector_response_time_seconds{job="aegis-c-detector",quantile="0.95"} > 2
        for: 5m
        labels: {severity: warning, level: "1"}
        annotations:
          summary: Detector P95 response time {{ $value | humanizeDuration }} (> 2 s)
      - alert: DetectionScoreHigh
        expr: aegis_detection_scores_max{job="aegis-c-detector"} > 0.8
        labels: {severity: critical, level: "2"}
        annotations:
          summary: Detection score {{ $value }} above 0.8
  - name: aureus
    rules:
      - alert: AureusServiceDown
        expr: up{job=~"bridge|aureus-os|openclaw"} == 0
        for: 1m
        labels: {severity: critical, priority: P0}
        annotations:
          summary: "{{ $labels.job }} is down"
      - alert: AureusHighErrorRate
        expr: |
          sum by (job) (rate(http_requests_total{job=~"bridge|aureus-os|openclaw",code=~"5.."}[5m]))
            / sum by (job) (rate(http_requests_total{job=~"bridge|aureus-os|openclaw"}[5m])) > 0.01
        for: 5m
        labels: {severity: critical, priority: P1}
        annotations:
          summary: "{{ $labels.job }} error rate {{ $value | humanizePercentage }} (> 1%)"
      - alert: HighLatency
        expr: |
          histogram_quantile(0.95, sum by (job, le) (
            rate(http_request_duration_seconds_bucket{job=~"bridge|aureus-os|openclaw"}[5m]))) > 0.5
        for: 10m
        labels: {severity: warning, priority: P2}
        annotations:
          summary: "{{ $labels.job }} P95 latency {{ $value | humanizeDuration }}"
  - name: anomaly-detector
    rules:
      - alert: AnomalyDetectorErrorRate
        expr: |
          rate(anomaly_detector_processing_errors_total[5m])
            / rate(anomaly_detector_logs_processed_total[5m]) > 0.01
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: Processing error rate {{ $value | humanizePercentage }} (> 1%)
      - alert: AnomalyDetectorErrorRateCritical
        expr: |
          rate(anomaly_detector_processing_errors_total[5m])
            / rate(anomaly_detector_logs_processed_total[5m]) > 0.05
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: Processing error rate {{ $value | humanizePercentage }} (> 5%, escalate)
      - alert: AnomalyDetectorStalled
        expr: rate(anomaly_detector_logs_processed_total[5m]) == 0
        for: 30m
        labels: {severity: critical}
        annotations:
          summary: No log processing activity for 30 minutes
      - alert: AnomalyDetectorMemoryHigh
        expr: anomaly_detector_memory_usage_percent > 85
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: Memory usage {{ $value }}% (> 85%, investigate)
      - alert: AnomalyDetectorMemoryExhaustion
        expr: anomaly_detector_memory_usage_percent > 95
        for: 2m
        labels: {severity: critical}
        annotations:
          summary: Memory usage {{ $value }}% (> 95%, memory exhaustion recovery)
      - alert: AnomalyDetectorSlowProcessing
        expr: |
          anomaly_detector_processing_duration_seconds{quantile="0.95"} > 1
            or anomaly_detector_processing_duration_seconds{quantile="0.99"} > 5
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: Processing latency quantile {{ $labels.quantile }} is {{ $value }}s
      - alert: AnomalyDetectorQueueBacklog
        expr: |
          anomaly_detector_input_queue_size > 50000
            or anomaly_detector_processing_queue_size > 10000
            or anomaly_detector_alert_queue_size > 5000
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.__name__ }} is {{ $value }}"
  - name: meta
    rules:
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
        annotations:
          summary: Always firing, so a silent pipeline is noticed
      - alert: TargetDown
        expr: up == 0
        for: 2m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.job }} target {{ $labels.instance }} is down"
"""


@dataclass(frozen=True)
class HistorySeries:
    """A series to backfill: the live value it must lead up to, and how it moves daily."""

    job: str
    name: str
    level: float
    kind: str = "gauge"
    wobble: float = 0.0
    noise: float = 0.0


# Levels are what the simulators serve (testbed/sim/README.md); a counter's level is its rate.
# Memory wobbles little over a day: a least-squares line over one daily cycle of amplitude A
# rises by up to ~1.9 A, which must stay well inside a leak check's bands.
HISTORY = (
    HistorySeries(
        "anomaly-detector", "anomaly_detector_memory_usage_percent", 52.0, "gauge", 0.02, 0.01
    ),
    HistorySeries(
        "anomaly-detector", "anomaly_detector_logs_processed_total", 2500.0, "counter", 0.3, 0.05
    ),
    HistorySeries(
        "anomaly-detector", "anomaly_detector_processing_errors_total", 0.5, "counter", 0.3, 0.2
    ),
    HistorySeries(
        "anomaly-detector", "anomaly_detector_alerts_generated_total", 0.02, "counter", 0.5, 0.3
    ),
    HistorySeries("aegis-c-detector", "process_resident_memory_bytes", 412e6, "gauge", 0.02, 0.005),
    HistorySeries("aegis-backend", "nodejs_heap_size_used_bytes", 98e6, "gauge", 0.03, 0.02),
)
MEMORY_SERIES = frozenset(
    {
        "anomaly_detector_memory_usage_percent",
        "process_resident_memory_bytes",
        "nodejs_heap_size_used_bytes",
    }
)
# A leaking process held this fraction of its memory 24 h ago and climbed since.
LEAK_START_FRACTION = 0.55


@dataclass
class Observability:
    """The started servers, their scrape targets, and a way to stop them all."""

    workdir: Path
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    pushgateway: PushgatewayServer
    node_exporter: NodeExporterServer | None
    targets: dict[str, list[str]] = field(default_factory=dict)

    def variables(self) -> dict[str, str]:
        found = {
            "PROMETHEUS_URL": self.prometheus.url,
            "ALERTMANAGER_URL": self.alertmanager.url,
            "PUSHGATEWAY_URL": self.pushgateway.url,
        }
        if self.node_exporter is not None:
            found["NODE_EXPORTER_URL"] = self.node_exporter.url
        return found

    def stop(self) -> None:
        servers = (self.prometheus, self.alertmanager, self.pushgateway, self.node_exporter)
        for server in servers:
            if server is not None:
                server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class BackfilledPrometheus(PrometheusServer):
    """Prometheus whose TSDB holds ``history`` (OpenMetrics) before its first start."""

    def __init__(
        self, workdir: Path, targets: Mapping[str, list[str]], history: str, **kwargs: Any
    ) -> None:
        super().__init__(workdir, targets, **kwargs)
        self.history = history
        self._backfilled = not history

    def prepare(self) -> None:
        super().prepare()
        if not self._backfilled:
            backfill(self.history, self.workdir / "data", self.workdir / "history.om")
            self._backfilled = True

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        for scrape in config["scrape_configs"]:
            if scrape["job_name"] == "pushgateway":
                # Pushed series keep their own job/instance labels, as every Pushgateway setup does.
                scrape["honor_labels"] = True
        return config


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    options = dict((spec.get("options") or {}).get("prometheus") or {})
    sim_urls = simulator_urls(running.variables)
    if not sim_urls:
        raise TestbedError(
            "prometheus: start the 'sim' part first (testbed.start: [sim, prometheus])"
        )
    stack = start_observability(sim_urls, options)
    running.stoppers.append(stack.stop)
    running.variables.update(stack.variables())


def simulator_urls(variables: Mapping[str, str]) -> dict[str, str]:
    """The simulators' URLs from the sim part's ``VIGIL_SIM_<NAME>_URL`` (or ``SIM_...``)."""
    found = {}
    for name in SCRAPE_JOBS:
        for prefix in ("VIGIL_SIM", "SIM"):
            key = variable_name(prefix, name, "URL")
            if key in variables:
                found[name] = variables[key]
                break
    return found


# Nothing listens on the discard port: notifications fail locally, never leave the machine.
_NOWHERE = "http://127.0.0.1:9/"


class RoutedAlertmanager(AlertmanagerServer):
    """Alertmanager with AEGIS's routing: critical pages (PagerDuty + Slack), warning to Slack.

    Receivers point at a dead loopback port; the demo reads the route tree, not deliveries.
    """

    def __init__(self, workdir: Path, port: int, flat: bool = False) -> None:
        super().__init__(workdir, port)
        self.flat = flat

    def prepare(self) -> None:
        super().prepare()
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        config["receivers"] += [
            {
                "name": "oncall-pager",
                "pagerduty_configs": [{"routing_key": "demo-routing-key", "url": _NOWHERE}],
                "slack_configs": [{"api_url": _NOWHERE, "channel": "#aegis-critical"}],
            },
            {
                "name": "warnings-channel",
                "slack_configs": [{"api_url": _NOWHERE, "channel": "#aegis-warnings"}],
            },
        ]
        if not self.flat:
            config["route"]["routes"] = [
                {"matchers": ['severity="critical"'], "receiver": "oncall-pager"},
                {"matchers": ['severity="warning"'], "receiver": "warnings-channel"},
            ]
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def start_observability(sim_urls: Mapping[str, str], options: Mapping[str, Any]) -> Observability:
    """Start Prometheus first, then Alertmanager, Pushgateway and node_exporter; wait for data."""
    _require_binaries(bool(options.get("node_exporter", True)))
    leak = [str(job) for job in options.get("leak") or []]
    _check_leak(leak)
    workdir = Path(tempfile.mkdtemp(prefix="vigil-prometheus-"))
    alertmanager = RoutedAlertmanager(
        workdir / "alertmanager", free_port(), flat=bool(options.get("flat_routing", False))
    )
    pushgateway = PushgatewayServer(workdir / "pushgateway", port=free_port())
    node = (
        NodeExporterServer(workdir / "node", port=free_port())
        if options.get("node_exporter", True)
        else None
    )
    targets = scrape_targets(sim_urls, options.get("scrape") or {})
    prometheus_port = free_port()
    targets["prometheus"] = [f"127.0.0.1:{prometheus_port}"]
    targets["alertmanager"] = [alertmanager.address]
    targets["pushgateway"] = [pushgateway.address]
    if node is not None:
        targets["node"] = [node.address]
    history = history_text(targets, int(options.get("history_days", 7)), leak, time.time())
    prometheus = BackfilledPrometheus(
        workdir / "prometheus",
        targets,
        history,
        rule_files_text=RULES,
        alertmanager_url=alertmanager.url,
        port=prometheus_port,
    )
    stack = Observability(workdir, prometheus, alertmanager, pushgateway, node, targets)
    try:
        prometheus.start()
        for server in (alertmanager, pushgateway, node):
            if server is not None:
                server.start()
        if options.get("maintenance_silence", True):
            add_maintenance_silence(alertmanager.url)
        wait_for_data(prometheus.url, alertmanager.url, sum(len(t) for t in targets.values()))
    except ServiceStartError as problem:
        stack.stop()
        raise TestbedError(f"prometheus: {problem.service}: {problem.reason}") from None
    except BaseException:
        stack.stop()
        raise
    logger.info(
        "prometheus %s scraping %d targets", prometheus.url, sum(len(t) for t in targets.values())
    )
    return stack


def _require_binaries(node_exporter: bool) -> None:
    needed = ["prometheus", "promtool", "prometheus-alertmanager", "prometheus-pushgateway"]
    if node_exporter:
        needed.append("prometheus-node-exporter")
    missing = [name for name in needed if find_binary(name) is None]
    if missing:
        raise TestbedError(f"prometheus: {', '.join(missing)} not installed; {INSTALL_HINT}")


def scrape_targets(
    sim_urls: Mapping[str, str], extra: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Job -> ``host:port`` targets: the simulators that serve /metrics, then ``extra``."""
    targets: dict[str, list[str]] = {}
    for name, url in sim_urls.items():
        if name in SCRAPE_JOBS:
            targets.setdefault(SCRAPE_JOBS[name], []).append(urllib.parse.urlsplit(url).netloc)
    for job, addresses in extra.items():
        targets.setdefault(str(job), []).extend(str(address) for address in addresses)
    return targets


# -- history -----------------------------------------------------------------------------


def history_text(
    targets: Mapping[str, list[str]], days: int, leak: Sequence[str], now: float
) -> str:
    """OpenMetrics text of ``days`` of samples for the scraped jobs in HISTORY."""
    if days <= 0:
        return ""
    _check_leak(leak)
    start = int(now) - days * 86400
    families: dict[str, list[str]] = {}
    for series in HISTORY:
        # Gauges end two minutes back and the live scrapes continue them.
        gap = COUNTER_HISTORY_GAP_S if series.kind == "counter" else GAUGE_HISTORY_GAP_S
        end = int(now) - gap
        for instance in targets.get(series.job, []):
            labels = f'{{instance="{instance}",job="{series.job}"}}'
            points = _samples(series, start, end, series.job in leak, instance)
            families.setdefault(series.name, []).extend(
                f"{series.name}{labels} {value:.12g} {stamp}" for stamp, value in points
            )
    lines = []
    for name, samples in families.items():
        kind = next(s.kind for s in HISTORY if s.name == name)
        family = name.removesuffix("_total") if kind == "counter" else name
        lines.append(f"# TYPE {family} {kind}")
        lines.extend(samples)
    lines.append("# EOF")
    return "\n".join(lines) + "\n" if families else ""


def _check_leak(leak: Sequence[str]) -> None:
    unknown = sorted(set(leak) - {series.job for series in HISTORY if series.name in MEMORY_SERIES})
    if unknown:
        raise TestbedError(f"prometheus: leak: no memory history for job {', '.join(unknown)}")


def _samples(
    series: HistorySeries, start: int, end: int, leaking: bool, instance: str
) -> Iterator[tuple[int, float]]:
    noise = random.Random(f"{series.name}{instance}")
    total = 0.0
    step = COUNTER_STEP_S if series.kind == "counter" else GAUGE_STEP_S
    for stamp in range(start, end + 1, step):
        daily = 1.0 + series.wobble * math.sin(2 * math.pi * (stamp % 86400) / 86400)
        jitter = 1.0 + series.noise * noise.uniform(-1.0, 1.0)
        if series.kind == "counter":
            total += series.level * daily * jitter * step
            yield stamp, math.floor(total)
            continue
        level = series.level
        if leaking:
            climbed = min(1.0, max(0.0, 1.0 - (end - stamp) / 86400))
            level *= LEAK_START_FRACTION + (1.0 - LEAK_START_FRACTION) * climbed
        yield stamp, level * daily * jitter


def backfill(history: str, data_dir: Path, scratch: Path) -> None:
    """Write ``history`` into Prometheus' TSDB with ``promtool`` (one block, not 2 h ones)."""
    promtool = find_binary("promtool")
    if promtool is None:
        raise TestbedError(f"prometheus: promtool not installed; {INSTALL_HINT}")
    scratch.write_text(history, encoding="utf-8")
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "--quiet",
        # Default blocks are 2 h each: a week would be 84 blocks and take seconds to write.
        "--max-block-duration=1000h",
        str(scratch),
        str(data_dir),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise TestbedError(
            f"prometheus: promtool backfill took over {PROMTOOL_TIMEOUT_S:g}s"
        ) from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TestbedError(f"prometheus: promtool backfill failed: {reason[0]}")


def add_maintenance_silence(alertmanager_url: str, hours: float = 2.0) -> str:
    """Silence ``HighLatency`` for a planned maintenance, as seed 003's runbook does; its id."""
    now = datetime.now(UTC)
    silence = {
        "matchers": [
            {"name": "alertname", "value": "HighLatency", "isRegex": False, "isEqual": True}
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=hours)).isoformat(),
        "createdBy": "oncall@aureus.example",
        "comment": "Planned maintenance - [TICKET-123]",
    }
    response = http_request(
        f"{alertmanager_url}/api/v2/silences",
        method="POST",
        body=json.dumps(silence).encode(),
        headers={"Content-Type": "application/json"},
        timeout=2.0,
    )
    if response.status != 200:
        raise TestbedError(f"prometheus: Alertmanager refused the silence: {response.text[:200]}")
    silence_id: str = json.loads(response.body)["silenceID"]
    return silence_id


# -- readiness ---------------------------------------------------------------------------


def _query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    payload = json.loads(http_request(url, timeout=2.0).body)
    result: list[dict[str, Any]] = payload.get("data", {}).get("result", [])
    return result


def _watchdog_delivered(alertmanager_url: str) -> bool:
    query = urllib.parse.urlencode({"filter": 'alertname="Watchdog"'})
    alerts = json.loads(http_request(f"{alertmanager_url}/api/v2/alerts?{query}", timeout=2.0).body)
    return bool(alerts)


def wait_for_data(prometheus_url: str, alertmanager_url: str, target_count: int) -> None:
    """Until every target has two scrapes (so rate() works) and Watchdog reached Alertmanager."""

    def scraped_twice() -> bool:
        result = _query(prometheus_url, "count(count_over_time(up[1m]) >= 2)")
        return bool(result) and int(float(result[0]["value"][1])) >= target_count

    try:
        wait_until(scraped_twice, READY_TIMEOUT_S, 0.25, "every target scraped twice")
        wait_until(
            lambda: _watchdog_delivered(alertmanager_url),
            READY_TIMEOUT_S,
            0.25,
            "Watchdog in Alertmanager",
        )
    except WaitTimeout as problem:
        raise TestbedError(f"prometheus: {problem}") from None
