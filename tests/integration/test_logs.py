"""Log checks: Loki LogQL counts, rotated and gzipped log files, journald.

Loki here is the testbed's SIMULATION of Loki's HTTP API (Grafana Loki cannot be installed on
this machine): the probe sends real LogQL over Loki's real endpoints, and lines are pushed to
it with Loki's push API. The log files are the ``logs`` testbed part's week of rotated,
gzipped files; journald is whatever this host has (here: no journal, so journald checks must
be errors with the reason, never passes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.loki import count_query, logql_duration
from plugins.schema.base import Bands
from plugins.schema.logs import LokiCountCheck
from testbed.demo import start_testbed
from testbed.parts.logs import journal_available, write_log_set
from testbed.services import free_port
from testbed.services.network import http_request
from tests.support import ROOT, run_vigil

pytestmark = pytest.mark.integration

DEMO_PART = ROOT / "environments" / "parts" / "demo-logs.yaml"
BURST = 60
PUSHED_ERRORS = 120
LEAKED_SECRET = "hunter2-not-for-logs"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """Simulators (Loki among them) and a log set with an ERROR burst and a fresh OOM kill."""
    running = start_testbed(
        {
            "start": ["sim", "logs"],
            "options": {"logs": {"errors_last_hour": BURST, "oom_kill": True}},
        }
    )
    yield dict(running.variables)
    running.stop()


@pytest.fixture(scope="module")
def healthy_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("healthy-logs")
    write_log_set(root, datetime.now(UTC))
    return root


def _push_bridge_errors(loki: str) -> None:
    now_ns = time.time_ns()
    values = [
        [
            str(now_ns - (PUSHED_ERRORS - i) * 10**9 * 15),
            f"ERROR [bridge] upstream openclaw timed out after 30s request_id=r{i:04d}",
        ]
        for i in range(PUSHED_ERRORS - 1)
    ]
    values.append([str(now_ns), f"ERROR [bridge] auth failed for client password={LEAKED_SECRET}"])
    body = {
        "streams": [
            {"stream": {"job": "bridge", "namespace": "aureus", "app": "bridge"}, "values": values}
        ]
    }
    response = http_request(
        f"{loki}/loki/api/v1/push",
        method="POST",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        timeout=5.0,
    )
    assert response.status == 204, response.text


def _loki(logs: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "loki_count", "service": "loki", "logs": logs, **fields}


def _files(paths: str, pattern: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "log_count", "paths": paths, "pattern": pattern, **fields}


def test_counts_against_bounds_with_evidence(
    stack: dict[str, str], healthy_logs: Path, tmp_path: Path
) -> None:
    loki = stack["VIGIL_SIM_LOKI_URL"]
    _push_bridge_errors(loki)
    faulty = Path(stack["LOGS_DIR"])
    oom = r"Killed process \d+ \(anomaly_detector\)"
    syslog = {"format": "syslog"}
    checks = {
        "loki-ready": {"kind": "http_health", "service": "loki"},
        "loki-bridge-errors": _loki(
            '{job="bridge"} |= "ERROR"', window="24h", bands={"crit": 100}, severity="P1"
        ),
        "loki-errors-by-job": _loki(
            '{job=~"bridge|aureus-os|openclaw"} |= "ERROR"',
            window="24h",
            by=["job"],
            bands={"crit": 100},
        ),
        "loki-os-errors": _loki('{job="aureus-os"} |= "ERROR"', window="1h", bands={"crit": 10}),
        "loki-recent-bridge-logs": _loki(
            '{job="bridge"}', window="1h", bands={"crit": 1, "direction": "below"}, evidence=0
        ),
        "loki-unreachable": {**_loki('{job="bridge"}', bands={"crit": 1}), "service": "loki-down"},
        "loki-bad-logql": _loki('{job="bridge"} |~ "(unclosed"', bands={"crit": 1}),
        "app-errors-healthy": _files(
            f"{healthy_logs}/anomaly-detector/anomaly-detector.log*",
            " ERROR ",
            window="24h",
            bands={"warn": 10, "crit": 50},
        ),
        "app-errors-burst": _files(
            f"{faulty}/anomaly-detector/anomaly-detector.log*",
            " ERROR ",
            window="24h",
            bands={"warn": 10, "crit": 50},
        ),
        "oom-healthy-24h": _files(
            f"{healthy_logs}/kern.log*",
            oom,
            regex=True,
            window="24h",
            timestamp=syslog,
            bands={"crit": 0},
            severity="high",
        ),
        "oom-healthy-all-time": _files(
            f"{healthy_logs}/kern.log*", oom, regex=True, timestamp=syslog, bands={"crit": 0}
        ),
        "oom-now": _files(
            f"{faulty}/kern.log*",
            oom,
            regex=True,
            window="24h",
            timestamp=syslog,
            bands={"crit": 0},
            severity="high",
        ),
        "access-review": _files(
            f"{faulty}/anomaly-detector/access.log*",
            '"(GET|POST) ',
            regex=True,
            window="30d",
            timestamp={"format": "%d/%b/%Y:%H:%M:%S %z", "prefix": r"\S+ \S+ \S+ \["},
            informational=True,
            bands={"crit": 0},  # past its bands, yet a review step only reports
        ),
        "missing-log": _files(f"{tmp_path}/nowhere/*.log", "ERROR", bands={"crit": 0}),
        "journal-errors": {
            "kind": "journal_count",
            "unit": "anomaly-detector",
            "priority": "err",
            "window": "24h",
            "bands": {"crit": 0},
        },
        "journal-review": {
            "kind": "journal_count",
            "unit": "anomaly-detector",
            "priority": "err",
            "informational": True,
        },
    }
    services = {
        "loki": {"url": loki, "health_path": "/ready"},
        "loki-down": {"url": f"http://127.0.0.1:{free_port()}", "health_path": "/ready"},
    }
    run = run_vigil(tmp_path, {"name": "logs", "services": services, "checks": checks})
    journal = "passed" if journal_available() else "error"
    expected = {
        "loki-ready": "passed",
        "loki-bridge-errors": "failed",
        "loki-errors-by-job": "failed",
        "loki-os-errors": "passed",
        "loki-recent-bridge-logs": "passed",
        "loki-unreachable": "error",
        "loki-bad-logql": "error",
        "app-errors-healthy": "passed",
        "app-errors-burst": "failed",
        "oom-healthy-24h": "passed",
        "oom-healthy-all-time": "failed",
        "oom-now": "failed",
        "access-review": "passed",
        "missing-log": "error",
        "journal-errors": journal,
        "journal-review": journal,
    }
    assert {name: run.result(name)["outcome"] for name in expected} == expected, run.output[-4000:]

    bridge = run.result("loki-bridge-errors")
    assert bridge["severity"] == "high"
    first, *evidence = bridge["message"].split("\n")
    assert first == (
        'loki: sum (count_over_time({job="bridge"} |= "ERROR" [24h]))'
        f" = {PUSHED_ERRORS} > crit 100"
    )
    assert len(evidence) == 5 and all(line.startswith("  | ERROR [bridge]") for line in evidence)
    assert "password=***" in evidence[0] and LEAKED_SECRET not in bridge["message"]
    assert '{job="bridge"} = 120 > crit 100' in run.result("loki-errors-by-job")["message"]
    assert "connection refused" in run.result("loki-unreachable")["message"]
    assert "HTTP 400" in run.result("loki-bad-logql")["message"]

    burst = run.result("app-errors-burst")
    head, *lines = burst["message"].split("\n")
    assert "anomaly-detector.log*: lines matching ' ERROR ' in the last 24h = " in head
    assert int(head.split(" = ")[1].split()[0]) >= BURST
    assert head.endswith("> crit 50")
    assert len(lines) == 5 and all(" ERROR [" in line for line in lines)
    assert "Killed process 4242 (anomaly_detector)" in run.result("oom-now")["message"]
    assert "Killed process 3117" in run.result("oom-healthy-all-time")["message"]
    review = run.result("access-review")["message"]
    assert "access.log*: lines matching" in review and '"GET /' in review
    assert "no log files match" in run.result("missing-log")["message"]
    if journal == "error":
        assert stack["JOURNALD_AVAILABLE"] == "false"
        for name in ("journal-errors", "journal-review"):
            assert "cannot observe: no systemd journal on this host" in run.result(name)["message"]


def test_demo_part_on_healthy_and_degraded_logs(
    stack: dict[str, str], healthy_logs: Path, tmp_path: Path
) -> None:
    environment = {"name": "demo-logs", "extends": str(DEMO_PART)}
    variables = {"LOGS_DIR": str(healthy_logs), "JOURNALD_AVAILABLE": stack["JOURNALD_AVAILABLE"]}
    (tmp_path / "healthy").mkdir()
    healthy = run_vigil(tmp_path / "healthy", environment, extra_env=variables)
    assert set(healthy.outcomes().values()) == {"passed"}, healthy.output[-3000:]
    (tmp_path / "degraded").mkdir()
    degraded = run_vigil(tmp_path / "degraded", environment, extra_env=stack)
    assert degraded.result("anomaly-detector-oom-killer")["outcome"] == "failed"
    assert degraded.result("anomaly-detector-oom-killer")["severity"] == "high"
    assert degraded.result("anomaly-detector-app-errors")["outcome"] == "failed"
    assert degraded.result("anomaly-detector-api-access")["outcome"] == "passed"
    if stack["JOURNALD_AVAILABLE"] == "false":
        # Where there is no journal the demo does not run its journald entries at all.
        journald = {"anomaly-detector-oom-killer-journal", "anomaly-detector-journal-errors"}
        assert not journald & set(degraded.outcomes())


def test_logql_count_query_and_window() -> None:
    check = LokiCountCheck(
        service="loki",
        logs=' {job="bridge"} |= "ERROR"',
        window="1.5h",
        by=["job", "namespace"],
        bands=Bands(crit=1),
    )
    assert count_query(check) == (
        'sum by (job, namespace) (count_over_time({job="bridge"} |= "ERROR" [90m]))'
    )
    assert [logql_duration(s) for s in (86400, 45, 0.2)] == ["24h", "45s", "1s"]
