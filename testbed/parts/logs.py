"""A week of realistic, rotated and gzipped log files, and a simulated journald, for the demo.

Writes into a fresh temporary directory (removed on stop), as logrotate leaves them (daily,
``delaycompress``: ``x.log``, ``x.log.1``, ``x.log.2.gz`` ...), each file's mtime its last line::

    anomaly-detector/anomaly-detector.log*   ISO-8601 app log; ERRORs with stack traces
    anomaly-detector/access.log*             combined access log ([23/Nov/2026:10:00:00 +0000])
    kern.log*                                syslog-style kernel log; one old OOM kill, 9 days ago
    journal/system.jsonl                     two weeks of journal entries over two boots
    bin/journalctl                           stand-in journalctl that reads that journal

journald cannot run here (no systemd), so the journal is a SIMULATION of journald for hosts
without systemd: ``bin/journalctl`` (:func:`journalctl_main`) selects entries as journalctl
does (``-u``, ``-k``, ``-p``, ``--since``, ``--until``, ``FIELD=VALUE``) and prints them in
the real ``journalctl -o json`` format, so the journald checks run their real reader on it.

Options (``testbed.options.logs``): ``errors_last_hour: N`` adds a burst of N ERROR lines
to the current app log; ``journal_errors_last_hour: N`` adds N err-priority journal entries
of anomaly-detector.service; ``oom_kill: true`` adds an OOM-killer event 20 minutes ago (in
kern.log and in the journal). Variables: LOGS_DIR, and JOURNALCTL (the stand-in's path).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import gzip
import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

from testbed.demo import RunningTestbed, TestbedError

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = frozenset({"errors_last_hour", "journal_errors_last_hour", "oom_kill"})
DAYS = 7
JOURNAL_DAYS = 14
HOST = "detector-01"
APP_INTERVAL_S = 60
JOURNAL_APP_INTERVAL_S = 300
ACCESS_INTERVAL_S = 120
KERNEL_INTERVAL_S = 1800
ERRORS_PER_DAY = 3
SSH_LOGINS_PER_DAY = 4
SSH_FAILURES_PER_DAY = 20
OLD_OOM_AGE = timedelta(days=9)
# The host booted the day before its old OOM kill (kern.log starts there); the boot before
# that is older than the journal, whose entries from it -k (this boot only) leaves out.
BOOT_AGE = OLD_OOM_AGE + timedelta(days=1)
PREVIOUS_BOOT_AGE = timedelta(days=JOURNAL_DAYS + 6)
# The kernel keeps 15 characters of a command name (TASK_COMM_LEN 16): "anomaly_detecto".
KERNEL_COMM = "anomaly_detector"[:15]

Line = tuple[datetime, str]
KernelEvent = tuple[datetime, int, str]  # when, syslog priority, message
Record = tuple[datetime, dict[str, str]]  # when, the entry's fields


@dataclass(frozen=True)
class LogSet:
    """Where the log set was written, for tests and the environment's variables."""

    root: Path

    @property
    def app_log(self) -> Path:
        return self.root / "anomaly-detector" / "anomaly-detector.log"

    @property
    def access_log(self) -> Path:
        return self.root / "anomaly-detector" / "access.log"

    @property
    def kern_log(self) -> Path:
        return self.root / "kern.log"

    @property
    def journal(self) -> Path:
        return self.root / "journal" / "system.jsonl"

    @property
    def journalctl(self) -> Path:
        return self.root / "bin" / "journalctl"


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    options = dict((spec.get("options") or {}).get("logs") or {})
    unknown = set(options) - OPTIONS
    if unknown:
        raise TestbedError(f"logs: unknown option(s) {sorted(unknown)}")
    root = Path(tempfile.mkdtemp(prefix="vigil-logs-"))
    running.stoppers.append(lambda: shutil.rmtree(root, ignore_errors=True))
    logs = write_log_set(
        root,
        datetime.now(UTC),
        errors_last_hour=int(options.get("errors_last_hour", 0)),
        journal_errors_last_hour=int(options.get("journal_errors_last_hour", 0)),
        oom_kill=bool(options.get("oom_kill", False)),
    )
    running.variables["LOGS_DIR"] = str(root)
    running.variables["JOURNALCTL"] = str(logs.journalctl)
    logger.info("log files under %s; simulated journalctl %s", root, logs.journalctl)


def write_log_set(
    root: Path,
    now: datetime,
    *,
    errors_last_hour: int = 0,
    journal_errors_last_hour: int = 0,
    oom_kill: bool = False,
    seed: int = 4,
) -> LogSet:
    """Write the logs ending at ``now`` and the journal under ``root``; same seed, same logs."""
    logs = LogSet(root)
    logs.app_log.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    # One second inside the oldest day, so no file holds a lone line from the day before.
    start = now - timedelta(days=DAYS, seconds=-1)
    app = [*_app_lines(rng, start, now), *_error_burst(rng, now, errors_last_hour)]
    write_rotated(logs.app_log, app, now)
    write_rotated(logs.access_log, list(_access_lines(rng, start, now)), now)
    boot = now - BOOT_AGE
    kernel = [*_kernel_events(rng, boot, now), *_oom_kill(now - OLD_OOM_AGE, pid=3117)]
    if oom_kill:
        kernel += _oom_kill(now - timedelta(minutes=20), pid=4242)
    write_rotated(logs.kern_log, [(at, _kern_line(at, boot, text)) for at, _, text in kernel], now)
    write_journal(logs.journal, now, kernel, errors_last_hour=journal_errors_last_hour, seed=seed)
    write_journalctl(logs.journalctl, logs.journal)
    return logs


def write_rotated(path: Path, lines: list[Line], now: datetime) -> None:
    """Split ``lines`` by day into ``path``, ``path.1``, ``path.2.gz`` ... (newest first)."""
    by_age: dict[int, list[Line]] = {}
    # A stable sort on the time alone keeps a stack trace under the line that logged it.
    for moment, text in sorted(lines, key=lambda line: line[0]):
        by_age.setdefault(int((now - moment).total_seconds() // 86400), []).append((moment, text))
    for age, chunk in sorted(by_age.items()):
        name = path if age == 0 else path.with_name(f"{path.name}.{age}")
        body = "".join(text + "\n" for _, text in chunk).encode()
        if age >= 2:
            name = name.with_name(name.name + ".gz")
            # mtime 0 in the gzip header keeps the bytes reproducible; the file's mtime is set.
            name.write_bytes(gzip.compress(body, mtime=0))
        else:
            name.write_bytes(body)
        last = chunk[-1][0].timestamp()
        os.utime(name, (last, last))


def _every(start: datetime, end: datetime, seconds: int) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(seconds=seconds)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _app_lines(rng: random.Random, start: datetime, end: datetime) -> Iterator[Line]:
    for moment in _every(start, end, APP_INTERVAL_S):
        moment += timedelta(milliseconds=rng.randrange(1000))
        roll = rng.random()
        if roll < ERRORS_PER_DAY * APP_INTERVAL_S / 86400:
            yield from _error(rng, moment)
        elif roll < 0.02:
            yield (
                moment,
                f"{_iso(moment)} WARN  [alerts] delivery retry receiver=pagerduty "
                f"attempt={rng.randint(2, 3)} status=503",
            )
        else:
            lines = rng.randint(140_000, 160_000)
            yield (
                moment,
                f"{_iso(moment)} INFO  [pipeline] batch processed lines={lines} "
                f"duration_ms={rng.randint(30, 90)} queue_input={rng.randint(800, 1600)}",
            )


def _error(rng: random.Random, moment: datetime) -> Iterator[Line]:
    offset = rng.randrange(10**9)
    yield (
        moment,
        f"{_iso(moment)} ERROR [pipeline] failed to parse log line source=syslog "
        f"offset={offset}: unexpected token at column {rng.randint(1, 200)}",
    )
    # Continuation lines carry no timestamp; they belong to the ERROR line above.
    yield moment, "Traceback (most recent call last):"
    yield moment, '  File "/opt/anomaly-detector/pipeline/parse.py", line 88, in parse_line'
    yield moment, "ValueError: unexpected token"


def _error_burst(rng: random.Random, now: datetime, count: int) -> list[Line]:
    burst: list[Line] = []
    for index in range(count):
        moment = now - timedelta(minutes=55) + timedelta(seconds=index * 3300 / max(count, 1))
        burst.append(
            (
                moment,
                f"{_iso(moment)} ERROR [alerts] alert delivery failed receiver=pagerduty "
                f"alert_id=A-{rng.randrange(10**6):06d}: connection reset by peer",
            )
        )
    return burst


_REQUESTS = (
    ("GET", "/health", 200, 57),
    ("GET", "/metrics", 200, 2525),
    ("GET", "/health", 200, 57),
    ("POST", "/admin/enable-backpressure", 200, 31),
    ("GET", "/admin/status", 401, 24),
)


def _access_lines(rng: random.Random, start: datetime, end: datetime) -> Iterator[Line]:
    for moment in _every(start, end, ACCESS_INTERVAL_S):
        weights = (60, 35, 0, 0.5, 1)
        method, path, status, size = rng.choices(_REQUESTS, weights=weights)[0]
        client = "127.0.0.1" if path in ("/health", "/metrics") else f"10.20.0.{rng.randint(2, 40)}"
        agent = "Prometheus/2.42.0" if path == "/metrics" else "curl/7.88.1"
        stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
        yield (
            moment,
            f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"',
        )


def _syslog(moment: datetime) -> str:
    return f"{moment.strftime('%b')} {moment.day:>2} {moment.strftime('%H:%M:%S')} {HOST} kernel:"


def _kern_line(moment: datetime, boot: datetime, message: str) -> str:
    return f"{_syslog(moment)} [{(moment - boot).total_seconds():12.6f}] {message}"


_KERNEL = (
    (4, "[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.{n} DST=10.20.0.5 PROTO=TCP SPT=443 DPT=22"),
    (6, "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none."),
    (5, 'audit: type=1400 apparmor="STATUS" operation="profile_replace" name="nvidia_modprobe"'),
)


def _kernel_events(rng: random.Random, boot: datetime, end: datetime) -> Iterator[KernelEvent]:
    for moment in _every(boot + timedelta(seconds=100), end, KERNEL_INTERVAL_S):
        priority, message = rng.choice(_KERNEL)
        yield moment, priority, message.format(n=rng.randint(1, 254))


def _oom_kill(moment: datetime, pid: int) -> list[KernelEvent]:
    return [
        (
            moment,
            4,
            f"{KERNEL_COMM} invoked oom-killer: "
            "gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
        ),
        (
            moment,
            3,
            f"Out of memory: Killed process {pid} ({KERNEL_COMM}) "
            "total-vm:8388608kB, anon-rss:7340032kB, file-rss:0kB, shmem-rss:0kB, UID:998 "
            "pgtables:14560kB oom_score_adj:0",
        ),
    ]


# --- the journal ------------------------------------------------------------------------------

_APP_FIELDS = {
    "SYSLOG_IDENTIFIER": "anomaly-detector",
    "_TRANSPORT": "journal",
    "_UID": "998",
    "_GID": "998",
    "_COMM": KERNEL_COMM,
    "_EXE": "/opt/anomaly-detector/bin/anomaly_detector",
    "_CMDLINE": "/opt/anomaly-detector/bin/anomaly_detector"
    " --config /etc/anomaly-detector/config.ini",
    "_SYSTEMD_CGROUP": "/system.slice/anomaly-detector.service",
    "_SYSTEMD_UNIT": "anomaly-detector.service",
    "_SYSTEMD_SLICE": "system.slice",
}
_SYSTEMD_FIELDS = {
    "SYSLOG_FACILITY": "3",
    "SYSLOG_IDENTIFIER": "systemd",
    "_TRANSPORT": "journal",
    "_PID": "1",
    "_UID": "0",
    "_GID": "0",
    "_COMM": "systemd",
    "_EXE": "/usr/lib/systemd/systemd",
    "_CMDLINE": "/sbin/init",
    "_SYSTEMD_CGROUP": "/init.scope",
    "_SYSTEMD_UNIT": "init.scope",
    "_SYSTEMD_SLICE": "-.slice",
}
_SSHD_FIELDS = {
    "PRIORITY": "6",
    "SYSLOG_IDENTIFIER": "sshd",
    "_TRANSPORT": "syslog",
    "_UID": "0",
    "_GID": "0",
    "_COMM": "sshd",
    "_EXE": "/usr/sbin/sshd",
    "_SYSTEMD_CGROUP": "/system.slice/ssh.service",
    "_SYSTEMD_UNIT": "ssh.service",
    "_SYSTEMD_SLICE": "system.slice",
}
_UNITS = {
    "anomaly-detector.service": "Anomaly Detector",
    "ssh.service": "OpenBSD Secure Shell server",
}
_SSH_USERS = {"deploy": 1001, "ops": 1002}
_SSH_GUESSES = ("admin", "test", "oracle", "ubuntu", "postgres", "root")


@dataclass(frozen=True)
class Boot:
    """One boot of the simulated host: its id and when it started."""

    id: str
    started: datetime


def write_journal(
    path: Path,
    now: datetime,
    kernel: Iterable[KernelEvent],
    *,
    errors_last_hour: int = 0,
    seed: int = 4,
) -> list[Boot]:
    """Write two weeks of entries ending at ``now``, one ``journalctl -o json`` line each.

    ``kernel`` holds this boot's kernel messages; the OOM kills among them also get systemd's
    entries about the unit. Returns the boots, oldest first.
    """
    rng = random.Random(f"journal-{seed}")
    boots = [
        Boot(rng.randbytes(16).hex(), now - PREVIOUS_BOOT_AGE),
        Boot(rng.randbytes(16).hex(), now - BOOT_AGE),
    ]
    start = now - timedelta(days=JOURNAL_DAYS)
    kernel_events = [*_kernel_events(rng, boots[0].started, boots[1].started), *kernel]
    records = [
        *((at, _kernel_fields(priority, text)) for at, priority, text in kernel_events),
        *_boot_records(boots[1:]),
        *_oom_unit_records(kernel_events),
        *_app_records(rng, start, now, boots),
        *_alert_failures(rng, now, errors_last_hour, boots),
        *_ssh_records(rng, start, now),
    ]
    records = sorted((r for r in records if start <= r[0] <= now), key=lambda record: record[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    seqnum_id = rng.randbytes(16).hex()
    with path.open("w", encoding="utf-8") as out:
        for seqnum, (moment, fields) in enumerate(records, 1):
            entry = _entry(moment, fields, _boot_at(boots, moment), seqnum_id, seqnum)
            out.write(json.dumps(entry, separators=(",", ":")) + "\n")
    return boots


def _entry(
    moment: datetime, fields: dict[str, str], boot: Boot, seqnum_id: str, seqnum: int
) -> dict[str, str]:
    """The entry as journalctl prints it: cursor, timestamps and boot first, then its fields."""
    realtime = _micros(moment)
    monotonic = realtime - _micros(boot.started)
    xor = int.from_bytes(hashlib.blake2b(repr(fields).encode(), digest_size=8).digest(), "big")
    cursor = f"s={seqnum_id};i={seqnum:x};b={boot.id};m={monotonic:x};t={realtime:x};x={xor:x}"
    entry = {
        "__CURSOR": cursor,
        "__REALTIME_TIMESTAMP": str(realtime),
        "__MONOTONIC_TIMESTAMP": str(monotonic),
        "_BOOT_ID": boot.id,
        **fields,
        "_HOSTNAME": HOST,
        "_MACHINE_ID": "5c7f1e0a9d3b4e8f8a61c2d4b7e90f13",
    }
    if fields.get("_TRANSPORT") == "kernel":
        entry["_SOURCE_MONOTONIC_TIMESTAMP"] = str(monotonic)
    else:
        entry["_SOURCE_REALTIME_TIMESTAMP"] = str(realtime - 137)
    return entry


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _boot_at(boots: Sequence[Boot], moment: datetime) -> Boot:
    return [boot for boot in boots if boot.started <= moment][-1]


def _kernel_fields(priority: int, message: str) -> dict[str, str]:
    return {
        "PRIORITY": str(priority),
        "SYSLOG_FACILITY": "0",
        "SYSLOG_IDENTIFIER": "kernel",
        "_TRANSPORT": "kernel",
        "MESSAGE": message,
    }


def _systemd(moment: datetime, unit: str, priority: int, message: str) -> Record:
    fields = {"PRIORITY": str(priority), **_SYSTEMD_FIELDS, "UNIT": unit, "MESSAGE": message}
    return moment, fields


def _boot_records(boots: Iterable[Boot]) -> Iterator[Record]:
    for boot in boots:
        for offset, (unit, description) in enumerate(_UNITS.items()):
            moment = boot.started + timedelta(seconds=8 + offset)
            yield _systemd(moment, unit, 6, f"Started {unit} - {description}.")


def _oom_unit_records(kernel: Iterable[KernelEvent]) -> Iterator[Record]:
    """What systemd logs about anomaly-detector.service when the OOM killer took it."""
    unit = "anomaly-detector.service"
    for moment, _, message in kernel:
        if not message.startswith("Out of memory: Killed process"):
            continue
        after = moment + timedelta(milliseconds=40)
        yield _systemd(
            after, unit, 5, f"{unit}: A process of this unit has been killed by the OOM killer."
        )
        yield _systemd(after, unit, 5, f"{unit}: Main process exited, code=killed, status=9/KILL")
        yield _systemd(after, unit, 4, f"{unit}: Failed with result 'oom-kill'.")
        restarted = after + timedelta(seconds=5)
        yield _systemd(
            restarted, unit, 6, f"{unit}: Scheduled restart job, restart counter is at 1."
        )
        yield _systemd(restarted, unit, 6, f"Started {unit} - {_UNITS[unit]}.")


def _app(
    moment: datetime, boots: Sequence[Boot], priority: int, logger_name: str, text: str
) -> Record:
    # The service logs through the native journal API: one entry per record, tracebacks in it.
    pid = 1298 + 44 * boots.index(_boot_at(boots, moment))
    fields = {"PRIORITY": str(priority), "LOGGER": logger_name, **_APP_FIELDS, "_PID": str(pid)}
    return moment, {**fields, "MESSAGE": text}


def _app_records(
    rng: random.Random, start: datetime, end: datetime, boots: Sequence[Boot]
) -> Iterator[Record]:
    for moment in _every(start, end, JOURNAL_APP_INTERVAL_S):
        moment += timedelta(milliseconds=rng.randrange(1000))
        roll = rng.random()
        if roll < ERRORS_PER_DAY * JOURNAL_APP_INTERVAL_S / 86400:
            text = (
                f"ERROR [pipeline] failed to parse log line source=syslog "
                f"offset={rng.randrange(10**9)}: unexpected token at column {rng.randint(1, 200)}\n"
                "Traceback (most recent call last):\n"
                '  File "/opt/anomaly-detector/pipeline/parse.py", line 88, in parse_line\n'
                "ValueError: unexpected token"
            )
            yield _app(moment, boots, 3, "pipeline", text)
        elif roll < 0.05:
            text = (
                "WARN [alerts] delivery retry receiver=pagerduty "
                f"attempt={rng.randint(2, 3)} status=503"
            )
            yield _app(moment, boots, 4, "alerts", text)
        else:
            text = (
                f"INFO [pipeline] stats window=5m batches=5 lines={rng.randint(700_000, 800_000)} "
                f"queue_input={rng.randint(800, 1600)}"
            )
            yield _app(moment, boots, 6, "pipeline", text)


def _alert_failures(
    rng: random.Random, now: datetime, count: int, boots: Sequence[Boot]
) -> Iterator[Record]:
    for index in range(count):
        moment = now - timedelta(minutes=55) + timedelta(seconds=index * 3300 / max(count, 1))
        text = (
            "ERROR [alerts] alert delivery failed receiver=pagerduty "
            f"alert_id=A-{rng.randrange(10**6):06d}: connection reset by peer"
        )
        yield _app(moment, boots, 3, "alerts", text)


def _sshd(moment: datetime, pid: int, text: str, *, facility: str = "4") -> Record:
    fields = {**_SSHD_FIELDS, "SYSLOG_FACILITY": facility, "SYSLOG_PID": str(pid)}
    fields["SYSLOG_TIMESTAMP"] = f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S} "
    return moment, {**fields, "_PID": str(pid), "MESSAGE": text}


def _ssh_records(rng: random.Random, start: datetime, end: datetime) -> Iterator[Record]:
    span = (end - start).total_seconds()
    for _ in range(JOURNAL_DAYS * SSH_LOGINS_PER_DAY):
        moment = start + timedelta(seconds=rng.uniform(0, span))
        user = rng.choice(sorted(_SSH_USERS))
        pid, port = rng.randint(20_000, 60_000), rng.randint(40_000, 65_000)
        key = base64.b64encode(hashlib.sha256(user.encode()).digest()).decode().rstrip("=")
        yield _sshd(
            moment,
            pid,
            f"Accepted publickey for {user} from 10.20.0.{rng.randint(2, 40)} port {port} "
            f"ssh2: ED25519 SHA256:{key}",
        )
        session = f"pam_unix(sshd:session): session opened for user {user}"
        yield _sshd(moment, pid, f"{session}(uid={_SSH_USERS[user]}) by (uid=0)", facility="10")
        logout = moment + timedelta(minutes=rng.randint(2, 40))
        yield _sshd(
            logout, pid, f"pam_unix(sshd:session): session closed for user {user}", facility="10"
        )
    for _ in range(JOURNAL_DAYS * SSH_FAILURES_PER_DAY):
        moment = start + timedelta(seconds=rng.uniform(0, span))
        guess = rng.choice(_SSH_GUESSES)
        pid, port = rng.randint(20_000, 60_000), rng.randint(40_000, 65_000)
        source = f"203.0.113.{rng.randint(1, 254)} port {port}"
        if guess == "root":
            yield _sshd(moment, pid, f"Failed password for root from {source} ssh2")
            closed = f"Connection closed by authenticating user root {source} [preauth]"
        else:
            yield _sshd(moment, pid, f"Invalid user {guess} from {source}")
            yield _sshd(moment, pid, f"Failed password for invalid user {guess} from {source} ssh2")
            closed = f"Connection closed by invalid user {guess} {source} [preauth]"
        yield _sshd(moment + timedelta(seconds=2), pid, closed)


# --- the stand-in journalctl ------------------------------------------------------------------

JOURNALCTL_SCRIPT = '''\
#!{python}
"""Stand-in journalctl: a SIMULATION of journald for hosts without systemd (Vigil's testbed).

Answers as journalctl would, in its own output formats (``-o json`` included), from
{journal}
(see testbed/parts/logs.py, journalctl_main).
"""
import sys
sys.path.insert(0, {root!r})
from testbed.parts.logs import journalctl_main
sys.exit(journalctl_main(sys.argv[1:], {journal!r}))
'''

_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_OUTPUTS = ("short", "cat", "json")
_SECONDS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "week", "weeks"), 604800.0),
    **dict.fromkeys(("M", "month", "months"), 2629800.0),
    **dict.fromkeys(("y", "year", "years"), 31557600.0),
}
_SPAN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def write_journalctl(path: Path, journal: Path) -> Path:
    """Write the stand-in ``journalctl`` at ``path``, answering from ``journal``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    script = JOURNALCTL_SCRIPT.format(python=sys.executable, root=str(ROOT), journal=str(journal))
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    return path


class _Refused(Exception):
    """A command line journalctl refuses; the message is journalctl's own."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        unknown = message.removeprefix("unrecognized arguments: ")
        if unknown != message:
            message = f"unrecognized option '{unknown.split()[0]}'"
        raise _Refused(f"journalctl: {message}")


_VALUED = frozenset(
    {"-u", "--unit", "-p", "--priority", "-S", "--since", "-U", "--until", "-o", "--output"}
)


def _attached(argv: Sequence[str]) -> list[str]:
    """``--since -2d`` as ``--since=-2d``: getopt takes the next word whatever it looks like."""
    words: list[str] = []
    for word in argv:
        if words and words[-1] in _VALUED and word.startswith("-"):
            words[-1] = f"{words[-1]}={word}"
        else:
            words.append(word)
    return words


def _parser() -> _Parser:
    parser = _Parser(prog="journalctl", add_help=False, allow_abbrev=False)
    parser.add_argument("-u", "--unit", action="append", default=[])
    parser.add_argument("-k", "--dmesg", action="store_true")
    parser.add_argument("-p", "--priority")
    parser.add_argument("-S", "--since")
    parser.add_argument("-U", "--until")
    parser.add_argument("-n", "--lines", nargs="?", const="10")
    parser.add_argument("-r", "--reverse", action="store_true")
    parser.add_argument("-o", "--output", default="short")
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--no-pager", action="store_true")
    parser.add_argument("matches", nargs="*", metavar="FIELD=VALUE")
    return parser


@dataclass(frozen=True)
class Selection:
    """Which entries a journalctl command line selects (units, kernel, priority, window)."""

    units: tuple[str, ...] = ()
    kernel_boot: str | None = None
    priorities: frozenset[str] | None = None
    since_us: int | None = None
    until_us: int | None = None
    matches: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def wants(self, entry: Mapping[str, Any]) -> bool:
        if self.units and not any(_unit_matches(entry, unit) for unit in self.units):
            return False
        if self.kernel_boot is not None and (
            entry.get("_TRANSPORT") != "kernel" or entry.get("_BOOT_ID") != self.kernel_boot
        ):
            return False
        if self.priorities is not None and entry.get("PRIORITY") not in self.priorities:
            return False
        stamp = int(entry["__REALTIME_TIMESTAMP"])
        if self.since_us is not None and stamp < self.since_us:
            return False
        if self.until_us is not None and stamp > self.until_us:
            return False
        return all(entry.get(name) in values for name, values in self.matches.items())


def journalctl_main(
    argv: Sequence[str],
    journal: str | Path,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``journalctl`` over a JSON-lines journal: a SIMULATION of journald's reader.

    For hosts without systemd (the demo testbed): selects with ``-u UNIT`` (``_SYSTEMD_UNIT``,
    or systemd's own ``UNIT=`` entries), ``-k`` (kernel messages of this boot), ``-p a[..b]``,
    ``--since``/``--until`` (``@epoch``, dates, "24 hours ago"), ``FIELD=VALUE``, ``-n N``,
    and prints ``-o short|cat|json`` as journalctl does, notices and exit codes included.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = _parser().parse_args(_attached(argv))
        if args.output not in _OUTPUTS:
            raise _Refused(f"Unknown output format '{args.output}'.")
        entries = _read_journal(Path(journal))
        if entries is None:
            if args.output != "json":
                err.write("No journal files were found.\n")
            _write_entries(out, [], args)
            return 0
        selection = _selection(args, entries, datetime.now(UTC))
        chosen = [(line, entry) for line, entry in entries if selection.wants(entry)]
        if args.lines is not None:
            count = _count(args.lines)
            chosen = chosen[len(chosen) - count :] if count else []
        _write_entries(out, chosen[::-1] if args.reverse else chosen, args)
    except _Refused as problem:
        err.write(f"{problem}\n")
        return 1
    except BrokenPipeError:
        # A reader that stops early (journalctl | head) is no error; nothing more to print.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _read_journal(path: Path) -> list[tuple[str, dict[str, Any]]] | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    return [(line, json.loads(line)) for line in lines if line.strip()]


def _selection(
    args: argparse.Namespace, entries: Sequence[tuple[str, dict[str, Any]]], now: datetime
) -> Selection:
    matches: dict[str, frozenset[str]] = {}
    for match in args.matches:
        name, equals, value = match.partition("=")
        if not equals or not re.fullmatch(r"[A-Z0-9_]+", name):
            raise _Refused(f'Failed to add match "{match}": Invalid argument')
        matches[name] = matches.get(name, frozenset()) | {value}
    current_boot = entries[-1][1].get("_BOOT_ID") if entries else None
    return Selection(
        units=tuple(_mangle(unit) for unit in args.unit),
        kernel_boot=str(current_boot) if args.dmesg else None,
        priorities=None if args.priority is None else _priorities(args.priority),
        since_us=None if args.since is None else _timestamp(args.since, now),
        until_us=None if args.until is None else _timestamp(args.until, now),
        matches=matches,
    )


def _mangle(unit: str) -> str:
    # As systemctl and journalctl do: a name without a type is a service.
    return unit if "." in unit or any(c in unit for c in "*?[") else f"{unit}.service"


def _unit_matches(entry: Mapping[str, Any], pattern: str) -> bool:
    if fnmatch.fnmatchcase(str(entry.get("_SYSTEMD_UNIT", "")), pattern):
        return True
    # systemd's messages about a unit ("Started ...", "Failed with result ...") belong to it.
    return entry.get("_PID") == "1" and fnmatch.fnmatchcase(str(entry.get("UNIT", "")), pattern)


def _level(word: str) -> int:
    if word in _LEVELS:
        return _LEVELS.index(word)
    if word.isdigit() and int(word) < len(_LEVELS):
        return int(word)
    raise _Refused(f"Unknown log level {word}")


def _priorities(text: str) -> frozenset[str]:
    """``-p err`` is err and more severe (0-3); ``-p a..b`` the range, both ends included."""
    first, dots, last = text.partition("..")
    low, high = (0, _level(first)) if not dots else sorted((_level(first), _level(last)))
    return frozenset(str(level) for level in range(low, high + 1))


def _timestamp(text: str, now: datetime) -> int:
    """Microseconds since the epoch for journalctl's time forms; local time where none given."""
    value = text.strip()
    try:
        if value.startswith("@"):
            return round(float(value[1:]) * 1_000_000)
        if value in ("now", "today", "yesterday", "tomorrow"):
            midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
            days = {"today": 0, "yesterday": -1, "tomorrow": 1}
            moment = now if value == "now" else midnight + timedelta(days=days[value])
        elif value.endswith(" ago"):
            moment = now - timedelta(seconds=_span_seconds(value[: -len(" ago")]))
        elif value[:1] in "+-":
            sign = -1 if value[0] == "-" else 1
            moment = now + sign * timedelta(seconds=_span_seconds(value[1:]))
        else:
            moment = datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.astimezone()
    except (ValueError, KeyError, OverflowError):
        raise _Refused(f"Failed to parse timestamp: {text}") from None
    return _micros(moment)


def _span_seconds(span: str) -> float:
    """``1h 30min`` -> 5400.0; KeyError or ValueError for what systemd would refuse."""
    parts = _SPAN.findall(span)
    if not parts or _SPAN.sub("", span).strip():
        raise ValueError(span)
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise _Refused(f"Failed to parse lines '{text}'") from None
    if count < 0:
        raise _Refused(f"Failed to parse lines '{text}'")
    return count


def _write_entries(out: TextIO, chosen: Sequence[tuple[str, dict[str, Any]]], args: Any) -> None:
    for line, entry in chosen:
        if args.output == "json":
            out.write(line + "\n")
        elif args.output == "cat":
            out.write(_message(entry) + "\n")
        else:
            out.write(_short(entry) + "\n")
    # journalctl says so in its text formats only; JSON output stays JSON.
    if not chosen and args.output != "json" and not args.quiet:
        out.write("-- No entries --\n")


def _message(entry: Mapping[str, Any]) -> str:
    value = entry.get("MESSAGE", "")
    if isinstance(value, list):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _short(entry: Mapping[str, Any]) -> str:
    moment = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC).astimezone()
    ident = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "unknown"
    pid = "" if entry.get("_TRANSPORT") == "kernel" else f"[{entry.get('_PID', '?')}]"
    prefix = f"{moment:%b %d %H:%M:%S} {entry.get('_HOSTNAME', HOST)} {ident}{pid}: "
    first, *rest = _message(entry).splitlines() or [""]
    # Continuation lines of a multi-line message line up under its first line.
    indent = "\n" + " " * len(prefix)
    return prefix + first + "".join(indent + line for line in rest)
