"""Log checks: Loki LogQL counts, rotated and gzipped log files, journald.

Loki here is the testbed's SIMULATION of Loki's HTTP API (Grafana Loki cannot be installed on
this machine): the probe sends real LogQL over Loki's real endpoints, and lines are pushed to
it with Loki's push API. The log files are the ``logs`` testbed part's week of rotated,
gzipped files. journald cannot run here (no systemd): the part's stand-in ``journalctl`` is a
SIMULATION of journald that prints the real ``journalctl -o json`` format, read by the real
reader; the REAL journalctl of this host (no journal) must make a check an error, never a pass.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.journald import JournalQuery, scan_journal
from fixtures.logs import LogSourceError
from fixtures.loki import count_query, logql_duration
from plugins.schema.base import Bands
from plugins.schema.logs import LokiCountCheck
from testbed.demo import start_testbed
from testbed.parts.logs import (
    JOURNAL_DAYS,
    SSH_FAILURES_PER_DAY,
    SSH_LOGINS_PER_DAY,
    LogSet,
    write_journalctl,
    write_log_set,
)
from testbed.services import free_port
from testbed.services.network import http_request
from tests.support import ROOT, run_vigil

pytestmark = pytest.mark.integration

DEMO_PART = ROOT / "environments" / "parts" / "demo-logs.yaml"
BURST = 60
JOURNAL_BURST = 40
OOM = r"Killed process \d+ \(anomaly_detector?\)"
PUSHED_ERRORS = 120
LEAKED_SECRET = "hunter2-not-for-logs"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """Simulators (Loki among them) and a log set with ERROR bursts and a fresh OOM kill."""
    faults = {
        "errors_last_hour": BURST,
        "journal_errors_last_hour": JOURNAL_BURST,
        "oom_kill": True,
    }
    running = start_testbed({"start": ["sim", "logs"], "options": {"logs": faults}})
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


def _journal(**fields: Any) -> dict[str, Any]:
    return {"kind": "journal_count", **fields}


def _host_has_journal() -> bool:
    """Whether journald keeps files on this host (this machine has no systemd: no)."""
    return any(
        Path(p).is_dir() and any(Path(p).iterdir())
        for p in ("/run/log/journal", "/var/log/journal")
    )


def test_counts_against_bounds_with_evidence(
    stack: dict[str, str], healthy_logs: Path, tmp_path: Path
) -> None:
    loki = stack["VIGIL_SIM_LOKI_URL"]
    _push_bridge_errors(loki)
    faulty = Path(stack["LOGS_DIR"])
    oom = OOM
    standin, healthy_standin = stack["JOURNALCTL"], str(LogSet(healthy_logs).journalctl)
    hour_errors: dict[str, Any] = {"unit": "anomaly-detector", "priority": "err", "window": "1h"}
    hour_errors |= {"bands": {"warn": 5, "crit": 20}, "severity": "high"}
    kernel_oom = {"kernel": True, "pattern": OOM, "regex": True, "bands": {"crit": 0}}
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
        "journal-burst": _journal(**hour_errors, journalctl=standin),
        "journal-quiet-hour": _journal(**hour_errors, journalctl=healthy_standin),
        "journal-oom-now": _journal(**kernel_oom, window="24h", journalctl=standin),
        "journal-oom-healthy-24h": _journal(**kernel_oom, window="24h", journalctl=healthy_standin),
        "journal-oom-this-boot": _journal(**kernel_oom, window="30d", journalctl=healthy_standin),
        "journal-ssh-review": _journal(
            unit="ssh",
            pattern="(Accepted|Failed)",
            regex=True,
            window="30d",
            informational=True,
            journalctl=healthy_standin,
        ),
        # The host's own journalctl (journalctl: left at its default).
        "journal-real-host": _journal(
            unit="anomaly-detector", priority="err", window="24h", bands={"crit": 0}
        ),
        "journal-real-review": _journal(
            unit="anomaly-detector", priority="err", informational=True
        ),
    }
    services = {
        "loki": {"url": loki, "health_path": "/ready"},
        "loki-down": {"url": f"http://127.0.0.1:{free_port()}", "health_path": "/ready"},
    }
    run = run_vigil(tmp_path, {"name": "logs", "services": services, "checks": checks})
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
        "journal-burst": "failed",
        "journal-quiet-hour": "passed",
        "journal-oom-now": "failed",
        "journal-oom-healthy-24h": "passed",
        "journal-oom-this-boot": "failed",
        "journal-ssh-review": "passed",
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
    assert "Killed process 4242 (anomaly_detecto)" in run.result("oom-now")["message"]
    assert "Killed process 3117 (anomaly_detecto)" in run.result("oom-healthy-all-time")["message"]
    review = run.result("access-review")["message"]
    assert "access.log*: lines matching" in review and '"GET /' in review
    assert "no log files match" in run.result("missing-log")["message"]

    journal = run.result("journal-burst")
    assert journal["severity"] == "high"
    head, *lines = journal["message"].split("\n")
    assert head.startswith(
        "journal (-u anomaly-detector -p err): entries matching any line in the last 1h = "
    )
    assert int(head.split(" = ")[1].split()[0]) >= JOURNAL_BURST and head.endswith("> crit 20")
    assert len(lines) == 5 and all(line.startswith("  | ERROR [") for line in lines)
    assert "Killed process 4242 (anomaly_detecto)" in run.result("journal-oom-now")["message"]
    assert "Killed process 3117 (anomaly_detecto)" in run.result("journal-oom-this-boot")["message"]
    ssh_head, *ssh_lines = run.result("journal-ssh-review")["message"].split("\n")
    ssh_events = JOURNAL_DAYS * (SSH_LOGINS_PER_DAY + SSH_FAILURES_PER_DAY)
    assert ssh_head.endswith(f"(Accepted|Failed)/ in the last 30d: {ssh_events}")
    events = ("| Accepted publickey for ", "| Failed password for ")
    assert len(ssh_lines) == 5 and all(any(e in line for e in events) for line in ssh_lines)

    real = [run.result(name) for name in ("journal-real-host", "journal-real-review")]
    if _host_has_journal():
        assert all(result["outcome"] != "failed" for result in real), real
    else:
        for result in real:
            assert result["outcome"] == "error", result
            assert "cannot observe: no systemd journal on this host" in result["message"]


def test_demo_part_on_healthy_and_degraded_logs(
    stack: dict[str, str], healthy_logs: Path, tmp_path: Path
) -> None:
    environment = {"name": "demo-logs", "extends": str(DEMO_PART)}
    variables = {
        "LOGS_DIR": str(healthy_logs),
        "JOURNALCTL": str(LogSet(healthy_logs).journalctl),
    }
    journald = {
        "anomaly-detector-oom-killer-journal",
        "anomaly-detector-journal-errors",
        "anomaly-detector-ssh-access",
    }
    (tmp_path / "healthy").mkdir()
    healthy = run_vigil(tmp_path / "healthy", environment, extra_env=variables)
    assert set(healthy.outcomes().values()) == {"passed"}, healthy.output[-3000:]
    assert journald <= set(healthy.outcomes()), healthy.outcomes()
    (tmp_path / "degraded").mkdir()
    degraded = run_vigil(tmp_path / "degraded", environment, extra_env=stack)
    assert degraded.result("anomaly-detector-oom-killer")["outcome"] == "failed"
    assert degraded.result("anomaly-detector-oom-killer")["severity"] == "high"
    assert degraded.result("anomaly-detector-app-errors")["outcome"] == "failed"
    assert degraded.result("anomaly-detector-api-access")["outcome"] == "passed"
    oom = degraded.result("anomaly-detector-oom-killer-journal")
    assert (oom["outcome"], oom["severity"]) == ("failed", "high")
    assert "Killed process 4242 (anomaly_detecto)" in oom["message"]
    review = degraded.result("anomaly-detector-journal-errors")
    assert review["outcome"] == "passed"  # a review step reports what it found
    head, *lines = review["message"].split("\n")
    assert head.startswith("journal (-u anomaly-detector -p err): entries matching any line")
    assert int(head.rsplit(": ", 1)[1]) >= JOURNAL_BURST
    assert lines and all(line.startswith("  | ERROR [") for line in lines)


def test_standin_journalctl_selects_as_journalctl_does(healthy_logs: Path, tmp_path: Path) -> None:
    journalctl = str(LogSet(healthy_logs).journalctl)

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        command = [journalctl, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    def entries(*args: str) -> list[dict[str, Any]]:
        done = call(*args, "-o", "json", "--all", "--no-pager")
        assert done.returncode == 0 and not done.stderr, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    preflight = call("-n", "0", "--no-pager")
    assert (preflight.returncode, preflight.stderr) == (0, "")
    now = int(time.time())
    since, until = now - 7 * 86400, now - 86400
    errors = entries(
        "-u", "anomaly-detector", "-p", "err", "--since", f"@{since}", "--until", f"@{until}"
    )
    assert errors
    for entry in errors:
        assert {"__REALTIME_TIMESTAMP", "PRIORITY", "MESSAGE", "SYSLOG_IDENTIFIER"} <= set(entry)
        assert entry["_SYSTEMD_UNIT"] == "anomaly-detector.service" and int(entry["PRIORITY"]) <= 3
        assert since * 10**6 <= int(entry["__REALTIME_TIMESTAMP"]) <= until * 10**6
    assert {e["PRIORITY"] for e in entries("-p", "warning..err")} == {"3", "4"}
    kernel = entries("-k")
    assert {(e["_TRANSPORT"], e["_BOOT_ID"]) for e in kernel} == {
        ("kernel", kernel[-1]["_BOOT_ID"])
    }
    assert len({e["_BOOT_ID"] for e in entries()}) == 2  # -k leaves the boot before out
    ssh_unit, sshd = entries("-u", "ssh"), entries("_COMM=sshd")
    assert [e for e in ssh_unit if e.get("_COMM") == "sshd"] == sshd
    assert [e["MESSAGE"] for e in ssh_unit if e["_PID"] == "1"] == [
        "Started ssh.service - OpenBSD Secure Shell server."
    ]
    scan = scan_journal(
        JournalQuery(unit="ssh", since=datetime.now(UTC) - timedelta(days=30)),
        {"accepted": "Accepted publickey", "failed": "Failed password"},
        journalctl=journalctl,
    )
    days = JOURNAL_DAYS
    assert scan.counts == {
        "accepted": days * SSH_LOGINS_PER_DAY,
        "failed": days * SSH_FAILURES_PER_DAY,
    }
    refused = call("--foo")
    assert (refused.returncode, refused.stderr) == (1, "journalctl: unrecognized option '--foo'\n")
    assert call("--since", "soon").stderr == "Failed to parse timestamp: soon\n"

    # Without its journal the stand-in answers as this host's real journalctl does.
    missing = write_journalctl(tmp_path / "journalctl", tmp_path / "absent.jsonl")
    with pytest.raises(LogSourceError, match="no systemd journal on this host"):
        scan_journal(JournalQuery(unit="ssh"), {"e": "Failed"}, journalctl=str(missing))


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
