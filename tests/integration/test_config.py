"""Configuration drift and validation, over a real sshd and locally, healthy and broken.

The anomaly detector's layout comes from testbed/parts/hostfiles (its ``anomaly_detector
--validate-config`` is a stand-in, a simulation of the product's CLI). A drift failure must
show the unified diff with secret values masked; a failed validation its last stderr lines,
masked; a missing or hanging command is an error with the reason.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.config import mask_secrets, masked_diff, recorded_checksum, run_here
from fixtures.observe import ObservationError
from testbed.parts.hostfiles import CONFIG_TEXT, AppLayout, build_layout, build_ops_files
from testbed.services import ServiceStartError, SshServer, start_sshd
from tests.support import VigilRun, run_vigil

# Only this domain's check module: a run never depends on the rest of checks/ importing.
CHECKS = "checks/test_config.py"

SECRETS = ("detector-db-pass", "demo-alert-token-1234", "rotated-db-pass", "hunter2")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except ServiceStartError as problem:
        pytest.fail(f"sshd could not start (scripts/install-services.sh): {problem}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> AppLayout:
    return build_layout(tmp_path_factory.mktemp("host"))


def _edited(path: Path) -> Path:
    """The config after an unapproved change: more workers and a rotated DB password."""
    text = CONFIG_TEXT.replace("workers = 8", "workers = 32")
    text = text.replace("password = detector-db-pass", "password = rotated-db-pass")
    path.write_text(text)
    return path


def _rewritten(path: Path) -> Path:
    lines = [f"setting_{n} = {n}" for n in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, sshd: SshServer, layout: AppLayout) -> VigilRun:
    work = tmp_path_factory.mktemp("files")
    edited = _edited(work / "edited.ini")
    rewritten = _rewritten(work / "rewritten.ini")
    bad_config = work / "bad.ini"
    bad_config.write_text(CONFIG_TEXT.replace("workers = 8", "workers = many"))
    bad_rules = work / "alerts.yml"
    bad_rules.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: up ==\n"
    )
    box = {"host": "box"}
    ops = build_ops_files(layout.root)
    broken = build_ops_files(work / "broken", retention="", scheduled=False)
    backup_keys = ["BACKUP_DIR", "BACKEND_DB_PASSWORD", "RETENTION_DAYS"]
    cron_line = [r"^\s*[0-9*@].*\bbackup\.sh\b"]
    validator = str(layout.validator)
    leak = "import sys; sys.stderr.write('login failed: password=hunter2\\n'); sys.exit(2)"
    checks: dict[str, dict[str, Any]] = {
        "drift-ok": {"kind": "config_drift", **box, "path": str(layout.config),
                     "baseline_file": str(layout.baseline)},
        "drift-edited": {"kind": "config_drift", **box, "path": str(edited),
                         "baseline_file": str(layout.baseline)},
        "drift-long": {"kind": "config_drift", "host": "local", "path": str(rewritten),
                       "baseline_file": str(layout.baseline)},
        "checksum-ok": {"kind": "config_drift", **box, "path": str(layout.config),
                        "checksum_file": str(layout.checksum)},
        "checksum-edited": {"kind": "config_drift", **box, "path": str(edited),
                            "checksum_file": str(layout.checksum)},
        "sha-ok": {"kind": "config_drift", "host": "local", "path": str(layout.config),
                   "sha256": recorded_checksum(layout.checksum.read_text(), str(layout.config))},
        "drift-missing": {"kind": "config_drift", **box, "path": str(work / "gone.ini"),
                          "baseline_file": str(layout.baseline)},
        "drift-no-baseline": {"kind": "config_drift", **box, "path": str(layout.config),
                              "baseline_file": str(work / "no-baseline.ini")},
        "validate-ok": {"kind": "config_validate", **box,
                        "command": [validator, "--config", str(layout.config), "--validate-config"]},
        "validate-bad": {"kind": "config_validate",
                         "command": [validator, "--config", str(bad_config), "--validate-config"]},
        "validate-rules-ok": {"kind": "config_validate",
                              "command": ["promtool", "check", "rules", str(layout.alert_rules)]},
        "validate-rules-bad": {"kind": "config_validate",
                               "command": ["promtool", "check", "rules", str(bad_rules)]},
        "validate-leak": {"kind": "config_validate", "command": [sys.executable, "-c", leak]},
        "validate-codes": {"kind": "config_validate", "command": ["false"], "success_codes": [1]},
        "validate-missing": {"kind": "config_validate", "command": ["no-such-validator", "-t"]},
        "validate-missing-remote": {"kind": "config_validate", **box,
                                    "command": ["no-such-validator", "-t"]},
        "backup-keys-ok": {"kind": "config_keys", **box, "path": str(ops.backup_script),
                           "keys": backup_keys},
        "backup-cron-ok": {"kind": "config_keys", **box, "path": str(ops.crontab),
                           "lines": cron_line},
        "backup-keys-bad": {"kind": "config_keys", "host": "local",
                            "path": str(broken.backup_script),
                            "keys": [*backup_keys, "BACKUP_ENCRYPTION_KEY"]},
        "backup-cron-bad": {"kind": "config_keys", "host": "local", "path": str(broken.crontab),
                            "lines": cron_line},
        "dr-validation-stand-in": {"kind": "config_validate",
                                   "command": [str(ops.dr_validation), "--region", "us-west-2"]},
        "validate-hangs": {"kind": "config_validate", "command": ["sleep", "30"], "timeout": 1},
        "validate-hangs-remote": {"kind": "config_validate", **box, "command": ["sleep", "30"],
                                  "timeout": 1},
    }  # fmt: skip
    environment = {
        "name": "config-test",
        "hosts": {
            "box": {
                "host": sshd.host, "port": sshd.port, "user": sshd.user,
                "key_file": str(sshd.key_path),
            }
        },
        "checks": checks,
    }  # fmt: skip
    return run_vigil(tmp_path_factory.mktemp("vigil"), environment, CHECKS)


@pytest.mark.parametrize(
    "name",
    [
        "drift-ok",
        "checksum-ok",
        "sha-ok",
        "validate-ok",
        "validate-rules-ok",
        "validate-codes",
        "backup-keys-ok",
        "backup-cron-ok",
        "dr-validation-stand-in",
    ],
)
def test_healthy_configuration_passes(run: VigilRun, name: str) -> None:
    assert run.result(name)["outcome"] == "passed", run.output[-3000:]


def test_unset_backup_settings_and_missing_schedule_fail(run: VigilRun, layout: AppLayout) -> None:
    keys = run.result("backup-keys-bad")
    assert (keys["outcome"], keys["severity"]) == ("failed", "medium"), keys
    assert keys["message"].endswith(
        "backup.sh on local: not set: BACKUP_ENCRYPTION_KEY; empty: RETENTION_DAYS"
    )
    cron = run.result("backup-cron-bad")
    assert cron["outcome"] == "failed"
    assert cron["message"].endswith(
        r"aegis-backup on local: no line matches: ^\s*[0-9*@].*\bbackup\.sh\b"
    )
    # The password's value is never part of what a config_keys check reports.
    script = layout.root / "opt/aegis/infrastructure/scripts/backup.sh"
    password = next(
        line.split("=", 1)[1].strip('"')
        for line in script.read_text().splitlines()
        if line.startswith("BACKEND_DB_PASSWORD=")
    )
    assert len(password) > 10 and password not in run.output


def test_no_secret_reaches_the_output(run: VigilRun) -> None:
    for secret in SECRETS:
        assert secret not in run.output
        assert all(secret not in str(entry) for entry in run.summary["checks"])


def test_drift_shows_the_masked_diff(run: VigilRun) -> None:
    drift = run.result("drift-edited")
    assert (drift["outcome"], drift["severity"]) == ("failed", "medium")
    message = drift["message"]
    assert "-workers = 8" in message and "+workers = 32" in message
    assert "-password = ****" in message and "+password = ****" in message
    assert " url = postgresql://detector:****@localhost:5432/anomalies" in message
    checksum = run.result("checksum-edited")
    assert checksum["outcome"] == "failed" and "differs from" in checksum["message"]


def test_long_diff_is_capped(run: VigilRun) -> None:
    message = run.result("drift-long")["message"]
    body = [
        line
        for line in message.splitlines()
        if line[:1] in "+- " and line[:3] not in ("---", "+++")
    ]
    assert len(body) <= 20
    assert "more diff lines" in message.splitlines()[-1]


def test_missing_file_fails_missing_baseline_errors(run: VigilRun) -> None:
    assert run.result("drift-missing")["outcome"] == "failed"
    assert run.result("drift-missing")["message"].endswith("gone.ini on box: missing")
    no_baseline = run.result("drift-no-baseline")
    assert no_baseline["outcome"] == "error" and "does not exist" in no_baseline["message"]


def test_failed_validation_shows_its_stderr(run: VigilRun) -> None:
    bad = run.result("validate-bad")
    assert (bad["outcome"], bad["severity"]) == ("failed", "high")
    assert "exited 1, expected 0" in bad["message"]
    assert "[processing] workers = 'many': expected an integer 1..1024" in bad["message"]
    rules = run.result("validate-rules-bad")
    assert rules["outcome"] == "failed" and "promtool check rules" in rules["message"]
    leak = run.result("validate-leak")
    assert leak["outcome"] == "failed" and "login failed: password=****" in leak["message"]


def test_missing_or_hanging_command_is_an_error(run: VigilRun) -> None:
    missing = run.result("validate-missing")
    assert missing["outcome"] == "error"
    assert "no-such-validator: command not found" in missing["message"]
    remote = run.result("validate-missing-remote")
    assert remote["outcome"] == "error"
    assert "box: no-such-validator: command not found" in remote["message"]
    for name in ("validate-hangs", "validate-hangs-remote"):
        hangs = run.result(name)
        assert hangs["outcome"] == "error"
        assert "sleep did not finish within 1s" in hangs["message"]


def test_a_hanging_command_and_its_children_are_killed() -> None:
    began = time.monotonic()
    # The child keeps the output pipe open: only killing the whole group ends the wait.
    with pytest.raises(ObservationError, match=r"sh did not finish within 0\.5s"):
        run_here(["sh", "-c", "sleep 30 & sleep 30"], 0.5, None)
    assert time.monotonic() - began < 3
    assert run_here(["sh", "-c", "echo out; echo err >&2; exit 3"], 5, "/") == (3, "out\n", "err\n")


def test_masking_rules() -> None:
    assert mask_secrets("password = two words") == "password = ****"
    assert mask_secrets('  "api_key": "abc"') == '  "api_key": ****'
    assert mask_secrets("DB_PASSWORD=x") == "DB_PASSWORD=****"
    assert mask_secrets("run --token abc --token=def") == "run --token **** --token=****"
    assert mask_secrets("ssh_key: /etc/key") == "ssh_key: ****"
    assert mask_secrets("redis://:pw@cache:6379") == "redis://:****@cache:6379"
    assert mask_secrets("broker amqp://guest:guest@mq/") == "broker amqp://guest:****@mq/"
    assert mask_secrets("error near db_password=x, line 3") == "error near db_password=****, line 3"
    for harmless in ("workers = 8", "keyboard = us", "monkey: banana", "--port 8080"):
        assert mask_secrets(harmless) == harmless


def test_masked_diff_caps_after_masking() -> None:
    before = "token = a\n" + "".join(f"x{n} = 1\n" for n in range(30))
    after = "token = b\n" + "".join(f"x{n} = 2\n" for n in range(30))
    lines, cut = masked_diff(before, after, "old", "new", limit=5)
    assert lines[:3] == ["--- old", "+++ new", "@@ -1,31 +1,31 @@"]
    assert lines[3] == "-token = ****" and len(lines) == 7
    assert cut == 1 + 31 + 31 - 5
