"""Host checks against a real sshd (and locally): healthy, then each fault an SRE meets.

The anomaly detector's host layout and its stand-in daemon come from testbed/parts/hostfiles
(the daemon is a simulation of the service's process and port). One run of Vigil covers the
healthy layout and a damaged copy (wrong mode, planted SUID file, stray owner, breached disk
band); a second run, after sshd is stopped, shows the host as unobservable.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from pydantic import ValidationError

from fixtures.hosts import (
    NO_LOGIN_SHELLS,
    HostConnection,
    parse_apt,
    parse_listeners,
    parse_processes,
)
from fixtures.observe import ObservationError
from plugins.schema import Environment
from plugins.schema.hosts import Host
from testbed.parts.hostfiles import AppLayout, build_layout, start_daemon, stop_daemon
from testbed.services import ServiceStartError, SshServer, free_port, start_sshd
from tests.support import VigilRun, run_vigil

# Only this domain's check module: a run never depends on the rest of checks/ importing.
CHECKS = "checks/test_hosts.py"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except ServiceStartError as problem:
        pytest.fail(f"sshd could not start (scripts/install-services.sh): {problem}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppLayout, int]]:
    layout = build_layout(tmp_path_factory.mktemp("good-host"))
    port = free_port()
    daemon = start_daemon(layout, port)
    yield layout, port
    stop_daemon(daemon)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> AppLayout:
    """A damaged copy: config readable by all, a SUID helper, a data file owned by root."""
    layout = build_layout(tmp_path_factory.mktemp("bad-host"))
    layout.config.chmod(0o644)
    planted = layout.bin_dir / "debug-helper"
    shutil.copy("/bin/true", planted)
    planted.chmod(0o4755)
    stray = layout.data_dir / "statistics" / "restored-by-hand.json"
    stray.write_text("{}")
    os.chown(stray, 0, 0)
    return layout


@pytest.fixture(scope="module")
def flapping() -> Iterator[str]:
    """A service that restarts every 1.5 s (a crash loop); yields the regex of its process."""
    marker = f"crashloop-{uuid.uuid4().hex[:8]}"
    code = "import time; time.sleep(1.5)"
    loop = f"while :; do {shlex.quote(sys.executable)} -c {shlex.quote(code)} {marker}; done"
    process = subprocess.Popen(["sh", "-c", loop], start_new_session=True)
    yield f"-c import time.* {marker}$"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def _login_users() -> list[str]:
    return [
        u.pw_name for u in pwd.getpwall() if PurePosixPath(u.pw_shell).name not in NO_LOGIN_SHELLS
    ]


def _environment(
    sshd: SshServer, good: AppLayout, port: int, bad: AppLayout, flapping: str = "^$"
) -> dict[str, Any]:
    box = {"host": "box"}
    users = _login_users()
    checks: dict[str, dict[str, Any]] = {
        "svc-ok": {
            "kind": "host_service", **box, "service": "anomaly-detector",
            "process": f"anomaly_detector --config {good.config}",
            "listening": [{"port": port, "address": "127.0.0.1"}],
        },
        "svc-down": {
            "kind": "host_service", **box, "service": "anomaly-detector",
            "process": f"anomaly_detector --config {bad.config}",
        },
        "svc-stable": {
            "kind": "host_service", **box, "service": "anomaly-detector",
            "process": f"anomaly_detector --config {good.config}", "stable_for": "2s",
        },
        "svc-flapping": {
            "kind": "host_service", **box, "service": "flapper", "process": flapping,
            "stable_for": "2s",
        },
        "svc-unconfigured": {"kind": "host_service", **box, "service": "anomaly-detector"},
        "svc-port-closed": {
            "kind": "host_service", **box, "service": "anomaly-detector",
            "listening": [{"port": free_port()}],
        },
        "ports-owner": {
            "kind": "host_ports", **box,
            "required": [{"url": f"http://127.0.0.1:{port}/health", "process": "^anomaly_detecto"}],
        },
        "ports-conflict": {
            "kind": "host_ports", **box, "required": [{"port": port, "process": "^nginx$"}],
        },
        "ports-allowlist": {"kind": "host_ports", **box, "allowed": [sshd.port]},
        "file-ok": {
            "kind": "host_file", **box, "path": str(good.config), "type": "file",
            "owner": "root", "group": good.group, "mode": "640",
        },
        "file-mode": {
            "kind": "host_file", **box, "path": str(bad.config), "owner": "root",
            "group": bad.group, "mode": 640, "severity": "critical",
        },
        "file-missing": {"kind": "host_file", **box, "path": str(good.root / "etc/nope.ini")},
        "data-ok": {
            "kind": "host_file", "host": "local", "path": str(good.data_dir),
            "owner": good.user, "group": good.group, "recursive": True,
        },
        "data-stray": {
            "kind": "host_file", **box, "path": str(bad.data_dir),
            "owner": bad.user, "group": bad.group, "recursive": True,
        },
        "suid-ok": {"kind": "host_suid", **box, "paths": [str(good.bin_dir), str(good.app_dir)]},
        "suid-planted": {"kind": "host_suid", **box, "paths": [str(bad.bin_dir), str(bad.app_dir)]},
        "suid-allowed": {
            "kind": "host_suid", **box, "paths": [str(bad.bin_dir)],
            "allowed": [str(bad.bin_dir / "debug-helper")],
        },
        "suid-no-dir": {"kind": "host_suid", **box, "paths": [str(good.root / "opt/missing")]},
        "disk-ok": {"kind": "host_disk", **box, "bands": {"warn": 99.8, "crit": 99.9, "unit": "%"}},
        "disk-crit": {
            "kind": "host_disk", **box, "path": str(good.root),
            "bands": {"warn": 0.001, "crit": 0.002, "unit": "%"},
        },
        "disk-warn": {
            "kind": "host_disk", "host": "local",
            "bands": {"warn": 0.001, "crit": 100, "unit": "%"},
        },
        "memory-ok": {"kind": "host_memory", **box, "bands": {"warn": 99.9, "crit": 100}},
        "logs-size": {
            "kind": "host_directory_size", **box, "path": str(good.log_dir), "name": "*.log",
            "modified_within": "7d", "growth_bands": {"crit": 0.001, "unit": " MB"},
        },
        "shell-users-ok": {"kind": "host_shell_users", **box, "allowed": users},
        "shell-users-extra": {"kind": "host_shell_users", **box, "allowed": users[1:]},
        "updates-observed": {
            "kind": "host_pending_updates", **box, "bands": {"crit": 1_000_000},
        },
    }  # fmt: skip
    return {
        "name": "hosts-test",
        "hosts": {
            "box": {
                "host": sshd.host, "port": sshd.port, "user": sshd.user,
                "key_file": str(sshd.key_path),
            }
        },
        "checks": checks,
    }  # fmt: skip


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
    sshd: SshServer,
    good: tuple[AppLayout, int],
    bad: AppLayout,
    flapping: str,
) -> VigilRun:
    layout, port = good
    environment = _environment(sshd, layout, port, bad, flapping)
    return run_vigil(tmp_path_factory.mktemp("vigil"), environment, CHECKS)


def _result(run: VigilRun, name: str) -> dict[str, Any]:
    return run.result(name)


@pytest.mark.parametrize(
    "name",
    ["svc-ok", "svc-stable", "ports-owner", "file-ok", "data-ok", "suid-ok", "suid-allowed", "disk-ok",
     "memory-ok", "shell-users-ok", "updates-observed"],
)  # fmt: skip
def test_healthy_host_passes(run: VigilRun, name: str) -> None:
    assert _result(run, name)["outcome"] == "passed", run.output[-3000:]


def test_no_systemd_is_said_not_passed_silently(run: VigilRun) -> None:
    ok = _result(run, "svc-ok")
    assert "no systemd" in ok["observed"] and "anomaly_detector --config" in ok["observed"]
    unconfigured = _result(run, "svc-unconfigured")
    assert unconfigured["outcome"] == "error"
    assert "no systemd" in unconfigured["message"]
    assert "give process: and listening:" in unconfigured["message"]


def test_service_down_fails_high(run: VigilRun) -> None:
    down = _result(run, "svc-down")
    assert (down["outcome"], down["severity"]) == ("failed", "high")
    assert "no process matching" in down["message"]
    assert "no systemd" in down["message"]
    closed = _result(run, "svc-port-closed")
    assert closed["outcome"] == "failed" and "nothing listening on" in closed["message"]


def test_service_restarting_within_the_window_fails(run: VigilRun) -> None:
    flapping = run.result("svc-flapping")
    assert (flapping["outcome"], flapping["severity"]) == ("failed", "high")
    assert "flapper on box: restarted within 2s (pid " in flapping["message"]


def test_port_held_by_another_process_fails(run: VigilRun) -> None:
    conflict = _result(run, "ports-conflict")
    assert conflict["outcome"] == "failed"
    assert "held by anomaly_detecto" in conflict["message"]
    assert "(port conflict)" in conflict["message"]
    extra = _result(run, "ports-allowlist")
    assert extra["outcome"] == "failed" and "not in the allow-list" in extra["message"]


def test_wrong_mode_and_missing_file_fail(run: VigilRun, bad: AppLayout) -> None:
    mode = _result(run, "file-mode")
    assert (mode["outcome"], mode["severity"]) == ("failed", "critical")
    assert mode["message"] == f"{bad.config} on box: mode 0644, expected 0640"
    missing = _result(run, "file-missing")
    assert missing["outcome"] == "failed" and missing["message"].endswith(": missing")


def test_stray_owner_below_data_dir_fails(run: VigilRun) -> None:
    stray = _result(run, "data-stray")
    assert stray["outcome"] == "failed"
    assert "root:root" in stray["message"] and "restored-by-hand.json" in stray["message"]


def test_planted_suid_file_fails(run: VigilRun, bad: AppLayout) -> None:
    planted = _result(run, "suid-planted")
    assert (planted["outcome"], planted["severity"]) == ("failed", "high")
    assert f"{bad.bin_dir / 'debug-helper'} (4755 root:root)" in planted["message"]
    missing = _result(run, "suid-no-dir")
    assert missing["outcome"] == "error" and "no such directory" in missing["message"]


def test_disk_bands_set_severity(run: VigilRun) -> None:
    crit = _result(run, "disk-crit")
    assert (crit["outcome"], crit["severity"], crit["band"]) == ("failed", "high", "crit")
    assert " on box used = " in crit["message"]
    assert "> crit 0.002%" in crit["message"]
    warn = _result(run, "disk-warn")
    assert (warn["outcome"], warn["severity"], warn["band"]) == ("failed", "medium", "warn")


def test_directory_growth_and_shell_users(run: VigilRun) -> None:
    growth = _result(run, "logs-size")
    assert growth["outcome"] == "failed" and "growth in 7d" in growth["message"]
    extra = _result(run, "shell-users-extra")
    assert extra["outcome"] == "failed"
    assert f"{_login_users()[0]} (" in extra["message"]


def test_sshd_stopped_mid_session_is_an_error(
    tmp_path: Path, sshd: SshServer, good: tuple[AppLayout, int], bad: AppLayout, run: VigilRun
) -> None:
    layout, port = good
    environment = _environment(sshd, layout, port, bad)
    keep = {"file-ok", "disk-ok", "data-ok"}
    environment["checks"] = {k: v for k, v in environment["checks"].items() if k in keep}
    sshd.stop()
    try:
        began = time.monotonic()
        after = run_vigil(tmp_path, environment, CHECKS)
        took = time.monotonic() - began
    finally:
        sshd.start()
    for name in ("file-ok", "disk-ok"):
        result = after.result(name)
        assert result["outcome"] == "error", after.output[-2000:]
        assert "Connection refused" in result["message"]
        assert f"ssh root@127.0.0.1:{sshd.port}" in result["message"]
    assert after.result("data-ok")["outcome"] == "passed"  # the local host is unaffected
    assert took < 30


def test_commands_are_bounded_on_the_host(sshd: SshServer) -> None:
    spec = Host(host=sshd.host, port=sshd.port, user=sshd.user, key_file=str(sshd.key_path))
    for connection in (HostConnection("box", spec), HostConnection("local", Host(host="local"))):
        try:
            began = time.monotonic()
            with pytest.raises(ObservationError, match=r"sleep did not finish within 0.5s"):
                connection.run(["sleep", "30"], timeout=0.5)
            assert time.monotonic() - began < 5
            with pytest.raises(ObservationError, match="no-such-tool: command not found"):
                connection.run(["no-such-tool"], timeout=2)
        finally:
            connection.close()


def test_ssh_commands_reuse_one_connection(sshd: SshServer) -> None:
    spec = Host(host=sshd.host, port=sshd.port, user=sshd.user, key_file=str(sshd.key_path))
    connection = HostConnection("box", spec)
    try:
        timings = []
        for _ in range(4):
            began = time.monotonic()
            assert connection.run(["id", "-un"], timeout=5).stdout.strip() == sshd.user
            timings.append(time.monotonic() - began)
        # Multiplexed over the ControlMaster the first command opened.
        assert min(timings[1:]) < 1.0, timings
    finally:
        connection.close()
    masters = subprocess.run(["pgrep", "-f", "vigil-ssh-"], capture_output=True, text=True)
    assert str(connection._control_dir) not in masters.stdout


def test_parsers_read_real_formats() -> None:
    ss = [
        'tcp LISTEN 0 511 127.0.0.1:8010 0.0.0.0:* users:(("detector",pid=41,fd=6))',
        "tcp LISTEN 0 128 [::]:22 [::]:*",
        'udp UNCONN 0 0 0.0.0.0%lo:53 0.0.0.0:* users:(("dnsmasq",pid=7,fd=4),("x",pid=8,fd=4))',
    ]
    listeners = parse_listeners(ss)
    assert [(item.address, item.port) for item in listeners] == [
        ("127.0.0.1", 8010), ("::", 22), ("0.0.0.0", 53),
    ]  # fmt: skip
    assert listeners[2].owners == (("dnsmasq", 7), ("x", 8))
    ps = [
        "  10     1   500 /usr/local/bin/anomaly_detector --config /etc/a.ini",
        "  20     1     1 timeout --kill-after=1 5.0 sh -c ps sh anomaly_detector --config",
        "  21    20     1 sh -c ps sh anomaly_detector --config",
        "  30     1     1 bash -c 'timeout --kill-after=1 5.0 sh -c ps sh anomaly_detector'",
    ]
    assert [p.pid for p in parse_processes(ps)] == [10]
    apt = "::age 87400 1000\nListing...\nopenssl/stable-security 3.0 amd64 [upgradable from: 2]\n"
    apt += "base-files/stable 12.4 amd64 [upgradable from: 12.1]\n"
    assert parse_apt(apt, security_only=True) == (["openssl"], 1.0)
    assert parse_apt(apt, security_only=False)[0] == ["openssl", "base-files"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"kind": "host_file", "host": "local", "path": "/x", "mode": "rw-r"}, "write it in octal"),
        ({"kind": "host_file", "host": "local", "path": "/x", "recursive": True}, "give at least one"),
        ({"kind": "host_ports", "host": "local", "required": [{"port": 1, "url": "http://h:2"}]},
         "exactly one of port, url"),
        ({"kind": "host_service", "host": "web", "service": "x"}, "hosts 'web' is not defined"),
    ],
)  # fmt: skip
def test_schema_rejects_bad_entries(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Environment.model_validate({"name": "t", "checks": {"c": entry}})
    with pytest.raises(ValidationError, match="a local host takes no user"):
        Host(host="local", user="root")
    unquoted = {"kind": "host_file", "host": "local", "path": "/x", "mode": 640}
    parsed = Environment.model_validate({"name": "t", "checks": {"c": unquoted}})
    assert parsed.checks["c"].mode == 0o640  # type: ignore[attr-defined]
