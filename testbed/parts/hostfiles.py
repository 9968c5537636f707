"""The anomaly detector's host layout (seed 004) under a temporary root, and a stand-in daemon.

What the runbook's host checks read, created for the demo::

    etc/anomaly-detector/config.ini          root:anomaly-detector 0640, with secrets
    opt/baselines/config.ini                 the approved copy (identical at start)
    opt/backups/anomaly-detector/weekly/config-checksum.txt   ``sha256sum`` of the config
    usr/local/bin/anomaly_detector           stand-in CLI: --validate-config, --serve
    opt/anomaly-detector/                    application directory (no SUID files)
    var/lib/anomaly-detector/                data, owned anomaly-detector:anomaly-detector
    var/log/anomaly-detector/*.log           logs
    etc/ssl/certs/anomaly-detector.crt       issued by a throwaway CA (with its CA file)
    etc/prometheus/alerts.yml                alert rules for ``promtool check rules``
    opt/aegis/infrastructure/scripts/backup.sh   AEGIS's backup settings (never run)
    etc/cron.d/aegis-backup                  its schedule
    opt/acso/scripts/production-validation.py, usr/local/bin/pip-audit   stand-ins

Options (``testbed.options.hostfiles``): ``cert_days``, ``backup_retention_days`` ("" leaves
RETENTION_DAYS empty), ``backup_scheduled`` (false: no crontab entry).

The ``anomaly-detector`` user and group are created when running as root and missing (a
system account with no login shell); otherwise the current user and group own the files.
The stand-in daemon is this module run as ``anomaly_detector --config FILE --serve``: a
simulation of the service's process and port, answering ``GET /health``.
"""

from __future__ import annotations

import argparse
import configparser
import grp
import hashlib
import http.server
import json
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from testbed.demo import RunningTestbed, TestbedError
from testbed.release_files import build_release_files

logger = logging.getLogger(__name__)

ACCOUNT = "anomaly-detector"
ACCOUNT_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
ROOT = Path(__file__).resolve().parents[2]

CONFIG_TEXT = """\
[service]
host = 127.0.0.1
port = 8080
log_dir = /var/log/anomaly-detector

[processing]
workers = 8
batch_size = 10000
max_memory_mb = 4096

[database]
url = postgresql://detector:detector-db-pass@localhost:5432/anomalies
password = detector-db-pass

[alerts]
webhook_url = https://alerts.example.internal/hooks/anomaly
api_token = demo-alert-token-1234
"""

ALERT_RULES = """\
groups:
  - name: anomaly-detector
    rules:
      - alert: AnomalyDetectorDown
        expr: up{job="anomaly-detector"} == 0
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: Anomaly detector is not being scraped
"""

LAUNCHER = """\
#!{python}
# Stand-in for the anomaly detector's binary (Vigil demo testbed, a simulation).
import sys
sys.path.insert(0, {root!r})
from testbed.parts.hostfiles import main
sys.exit(main(sys.argv[1:]))
"""

# AEGIS's backup script (seed 001, "Configure BACKUP_DIR, credentials ..., RETENTION_DAYS").
BACKUP_SCRIPT = """\
#!/bin/sh
# AEGIS database backup (Vigil demo testbed stand-in: never run by the demo).
BACKUP_DIR="{root}/var/backups/aegis"
BACKEND_DB_PASSWORD="{password}"
RETENTION_DAYS="{retention}"
pg_dump aegis_db | gzip > "$BACKUP_DIR/aegis-$(date +%Y%m%d).sql.gz"
find "$BACKUP_DIR" -name '*.sql.gz' -mtime +"$RETENTION_DAYS" -delete
"""
# Stand-ins for commands the demo host cannot run for real: ACSO's DR validation script
# (needs a restored production stack) and pip-audit (needs PyPI's advisory database).
STAND_IN = """\
#!{python}
# Stand-in for {what} (Vigil demo testbed, a simulation): reports success.
import sys
print({said!r})
sys.exit(0)
"""


@dataclass(frozen=True)
class OpsFiles:
    """The backup script, its crontab, and the stand-in validation commands."""

    backup_script: Path
    crontab: Path
    dr_validation: Path
    pip_audit: Path

    def variables(self) -> dict[str, str]:
        """``HOSTFILES_BACKUP_SCRIPT``, ``_BACKUP_CRONTAB``, ``_DR_VALIDATION``, ``_PIP_AUDIT``."""
        return {
            "HOSTFILES_BACKUP_SCRIPT": str(self.backup_script),
            "HOSTFILES_BACKUP_CRONTAB": str(self.crontab),
            "HOSTFILES_DR_VALIDATION": str(self.dr_validation),
            "HOSTFILES_PIP_AUDIT": str(self.pip_audit),
        }


def build_ops_files(root: Path, retention: str = "7", scheduled: bool = True) -> OpsFiles:
    """Write the backup script and crontab (``retention=""``/``scheduled`` make faults)."""
    files = OpsFiles(
        root / "opt/aegis/infrastructure/scripts/backup.sh",
        root / "etc/cron.d/aegis-backup",
        root / "opt/acso/scripts/production-validation.py",
        root / "usr/local/bin/pip-audit",
    )
    for path in (files.backup_script, files.crontab, files.dr_validation, files.pip_audit):
        path.parent.mkdir(parents=True, exist_ok=True)
    (root / "var/backups/aegis").mkdir(parents=True, exist_ok=True)
    files.backup_script.write_text(
        BACKUP_SCRIPT.format(root=root, password=secrets.token_urlsafe(18), retention=retention)
    )
    files.backup_script.chmod(0o700)
    entry = f"30 2 * * * root {files.backup_script} >> /var/log/aegis-backup.log 2>&1\n"
    files.crontab.write_text("# AEGIS nightly backup\n" + (entry if scheduled else ""))
    for path, what, said in (
        (files.dr_validation, "scripts/production-validation.py", "validation passed"),
        (files.pip_audit, "pip-audit", "No known vulnerabilities found"),
    ):
        path.write_text(STAND_IN.format(python=sys.executable, what=what, said=said))
        path.chmod(0o755)
    return files


@dataclass(frozen=True)
class AppLayout:
    """Where everything of the demo host lives, and who owns it."""

    root: Path
    user: str
    group: str

    @property
    def config(self) -> Path:
        return self.root / "etc/anomaly-detector/config.ini"

    @property
    def baseline(self) -> Path:
        return self.root / "opt/baselines/config.ini"

    @property
    def checksum(self) -> Path:
        return self.root / "opt/backups/anomaly-detector/weekly/config-checksum.txt"

    @property
    def bin_dir(self) -> Path:
        return self.root / "usr/local/bin"

    @property
    def validator(self) -> Path:
        return self.bin_dir / "anomaly_detector"

    @property
    def app_dir(self) -> Path:
        return self.root / "opt/anomaly-detector"

    @property
    def data_dir(self) -> Path:
        return self.root / "var/lib/anomaly-detector"

    @property
    def log_dir(self) -> Path:
        return self.root / "var/log/anomaly-detector"

    @property
    def cert(self) -> Path:
        return self.root / "etc/ssl/certs/anomaly-detector.crt"

    @property
    def ca_cert(self) -> Path:
        return self.root / "etc/ssl/certs/anomaly-detector-ca.crt"

    @property
    def alert_rules(self) -> Path:
        return self.root / "etc/prometheus/alerts.yml"

    def variables(self, prefix: str = "HOSTFILES") -> dict[str, str]:
        """The environment variables the demo parts read (``HOSTFILES_CONFIG``, ...)."""
        paths = {
            "ROOT": self.root,
            "CONFIG": self.config,
            "BASELINE": self.baseline,
            "CHECKSUM": self.checksum,
            "BIN_DIR": self.bin_dir,
            "VALIDATOR": self.validator,
            "APP_DIR": self.app_dir,
            "DATA_DIR": self.data_dir,
            "LOG_DIR": self.log_dir,
            "CERT": self.cert,
            "CA_CERT": self.ca_cert,
            "ALERT_RULES": self.alert_rules,
        }
        values = {f"{prefix}_{name}": str(path) for name, path in paths.items()}
        values[f"{prefix}_APP_USER"] = self.user
        values[f"{prefix}_APP_GROUP"] = self.group
        return values


def ensure_account() -> tuple[str, str]:
    """(user, group) to own the application files: ``anomaly-detector`` when possible."""
    if os.geteuid() == 0:
        try:
            _ensure(["groupadd", "--system", ACCOUNT], lambda: grp.getgrnam(ACCOUNT))
            _ensure(
                [
                    "useradd", "--system", "--gid", ACCOUNT, "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", ACCOUNT,
                ],
                lambda: pwd.getpwnam(ACCOUNT),
            )  # fmt: skip
            return ACCOUNT, ACCOUNT
        except (OSError, subprocess.SubprocessError, KeyError) as problem:
            logger.warning(
                "cannot create the %s account (%s); using the current one", ACCOUNT, problem
            )
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def _ensure(command: list[str], exists: Callable[[], object]) -> None:
    try:
        exists()
        return
    except KeyError:
        pass
    subprocess.run(command, capture_output=True, timeout=ACCOUNT_TIMEOUT_S, check=True)
    exists()


def build_layout(root: Path, cert_days: float = 90.0) -> AppLayout:
    """Create the host layout under ``root`` (files, owners, modes, certificate, baseline)."""
    from testbed.services.tls import TestCA

    user, group = ensure_account()
    layout = AppLayout(root, user, group)
    for directory in (
        layout.config.parent, layout.baseline.parent, layout.checksum.parent, layout.bin_dir,
        layout.app_dir / "models", layout.data_dir / "baselines", layout.data_dir / "statistics",
        layout.log_dir, layout.cert.parent, layout.root / "etc/ssl/private",
        layout.alert_rules.parent,
    ):  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
    layout.config.write_text(CONFIG_TEXT)
    shutil.chown(layout.config, "root" if os.geteuid() == 0 else user, group)
    layout.config.chmod(0o640)
    layout.baseline.write_text(CONFIG_TEXT)
    digest = hashlib.sha256(CONFIG_TEXT.encode()).hexdigest()
    layout.checksum.write_text(f"{digest}  {layout.config}\n")
    layout.validator.write_text(LAUNCHER.format(python=sys.executable, root=str(ROOT)))
    layout.validator.chmod(0o755)
    (layout.app_dir / "models/tier1.bin").write_bytes(os.urandom(4096))
    (layout.data_dir / "baselines/hourly.json").write_text(json.dumps({"mean": 120.5}))
    (layout.data_dir / "statistics/daily.json").write_text(json.dumps({"events": 10234}))
    for name in ("anomaly-detector.log", "processing.log"):
        (layout.log_dir / name).write_text("2024-01-01T00:00:00Z INFO started\n" * 200)
    for path in [layout.data_dir, *layout.data_dir.rglob("*")]:
        shutil.chown(path, user, group)
    ca = TestCA.create("Anomaly Detector Demo CA")
    issued = ca.issue(not_after=datetime.now(UTC) + timedelta(days=cert_days))
    issued.write(layout.cert, layout.root / "etc/ssl/private/anomaly-detector.key")
    ca.write(layout.ca_cert)
    layout.alert_rules.write_text(ALERT_RULES)
    return layout


def start_daemon(layout: AppLayout, port: int) -> subprocess.Popen[bytes]:
    """Start the stand-in daemon on ``port`` and return once it accepts connections."""
    from testbed.services.network import port_accepts
    from testbed.services.waiting import WaitTimeout, wait_until

    argv = [str(layout.validator), "--config", str(layout.config), "--serve", "--port", str(port)]
    log = (layout.log_dir / "daemon.out").open("ab")
    with log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        wait_until(
            lambda: process.poll() is None and port_accepts("127.0.0.1", port),
            READY_TIMEOUT_S,
            description="stand-in anomaly_detector listening",
        )
    except WaitTimeout as problem:
        stop_daemon(process)
        raise TestbedError(f"hostfiles: stand-in daemon did not start: {problem}") from None
    return process


def stop_daemon(process: subprocess.Popen[bytes]) -> None:
    """Stop the stand-in daemon (TERM, then KILL)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    from testbed.services.network import free_port

    options = (spec.get("options") or {}).get("hostfiles", {})
    root = Path(tempfile.mkdtemp(prefix="vigil-host-"))
    running.stoppers.append(lambda: shutil.rmtree(root, ignore_errors=True))
    layout = build_layout(root, float(options.get("cert_days", 90)))
    port = free_port()
    process = start_daemon(layout, port)
    running.stoppers.append(lambda: stop_daemon(process))
    running.variables.update(layout.variables())
    running.variables["HOSTFILES_DETECTOR_PORT"] = str(port)
    ops = build_ops_files(
        root,
        retention=str(options.get("backup_retention_days", "7")),
        scheduled=bool(options.get("backup_scheduled", True)),
    )
    running.variables.update(ops.variables())
    running.variables.update(
        build_release_files(
            root, compose_env_complete=bool(options.get("compose_env_complete", True))
        )
    )


# --- the stand-in CLI ------------------------------------------------------------------------


def validate(path: Path) -> list[str]:
    """Problems in an anomaly detector config.ini (empty when it is valid)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as problem:
        return [f"{path}: cannot read: {problem.strerror}"]
    except configparser.Error as problem:
        # The parser's own message quotes the offending line, which may hold a secret.
        return [f"{path}: not an INI file ({type(problem).__name__})"]
    required = ("service", "processing", "alerts")
    problems = [f"missing section [{name}]" for name in required if name not in parser]
    for section, key, low, high in (
        ("service", "port", 1, 65535),
        ("processing", "workers", 1, 1024),
        ("processing", "batch_size", 1, 1_000_000),
    ):
        if section not in parser:
            continue
        value = parser[section].get(key)
        if value is None:
            problems.append(f"[{section}] {key}: missing")
        elif not value.strip().isdigit() or not low <= int(value) <= high:
            problems.append(f"[{section}] {key} = {value!r}: expected an integer {low}..{high}")
    return problems


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b'{"status":"healthy"}') if self.path == "/health" else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("stand-in daemon: " + format, *args)


def main(argv: Sequence[str]) -> int:
    """``anomaly_detector --config FILE (--validate-config | --serve [--port N])``."""
    parser = argparse.ArgumentParser(prog="anomaly_detector")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--validate-config", action="store_true")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.validate_config:
        problems = validate(args.config)
        for problem in problems:
            sys.stderr.write(f"anomaly_detector: {problem}\n")
        verdict = "failed" if problems else "passed"
        sys.stdout.write(f"Configuration validation {verdict}\n")
        return 1 if problems else 0
    if args.serve:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Health)
        server.serve_forever()
        return 0
    parser.error("give --validate-config or --serve")
    return 2
