"""A week of realistic, rotated and gzipped log files for the demo's log checks.

Writes into a fresh temporary directory (removed on stop), as logrotate leaves them (daily,
``delaycompress``: ``x.log``, ``x.log.1``, ``x.log.2.gz`` ...), each file's mtime its last line::

    anomaly-detector/anomaly-detector.log*   ISO-8601 app log; ERRORs with stack traces
    anomaly-detector/access.log*             combined access log ([23/Nov/2026:10:00:00 +0000])
    kern.log*                                syslog-style kernel log; one old OOM kill, 9 days ago

Options (``testbed.options.logs``): ``errors_last_hour: N`` adds a burst of N ERROR lines
to the current app log; ``oom_kill: true`` adds an OOM-killer event 20 minutes ago.
Variables: LOGS_DIR, and JOURNALD_AVAILABLE ("true" only where a systemd journal is readable,
so the demo's journald checks run where they can; this machine has none).
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fixtures.journald import JournalQuery, scan_journal
from fixtures.logs import LogSourceError
from testbed.demo import RunningTestbed

logger = logging.getLogger(__name__)

DAYS = 7
HOST = "detector-01"
APP_INTERVAL_S = 60
ACCESS_INTERVAL_S = 120
KERNEL_INTERVAL_S = 1800
ERRORS_PER_DAY = 3
OLD_OOM_AGE = timedelta(days=9)
JOURNAL_PROBE_TIMEOUT_S = 5.0

Line = tuple[datetime, str]


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


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    options = dict((spec.get("options") or {}).get("logs") or {})
    root = Path(tempfile.mkdtemp(prefix="vigil-logs-"))
    running.stoppers.append(lambda: shutil.rmtree(root, ignore_errors=True))
    write_log_set(
        root,
        datetime.now(UTC),
        errors_last_hour=int(options.get("errors_last_hour", 0)),
        oom_kill=bool(options.get("oom_kill", False)),
    )
    running.variables["LOGS_DIR"] = str(root)
    running.variables["JOURNALD_AVAILABLE"] = "true" if journal_available() else "false"


def journal_available() -> bool:
    """Whether this host has a readable systemd journal (journalctl and journal files)."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        scan_journal(JournalQuery(since=since), {"any": ""}, timeout=JOURNAL_PROBE_TIMEOUT_S)
    except LogSourceError as problem:
        logger.info("no journald checks here: %s", problem)
        return False
    return True


def write_log_set(
    root: Path, now: datetime, *, errors_last_hour: int = 0, oom_kill: bool = False, seed: int = 4
) -> LogSet:
    """Write the week of logs ending at ``now`` under ``root``; the same seed, the same logs."""
    logs = LogSet(root)
    logs.app_log.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    # One second inside the oldest day, so no file holds a lone line from the day before.
    start = now - timedelta(days=DAYS, seconds=-1)
    app = [*_app_lines(rng, start, now), *_error_burst(rng, now, errors_last_hour)]
    write_rotated(logs.app_log, app, now)
    write_rotated(logs.access_log, list(_access_lines(rng, start, now)), now)
    kernel_start = now - OLD_OOM_AGE - timedelta(days=1, seconds=-1)
    kernel = list(_kernel_lines(rng, kernel_start, now))
    kernel += _oom_kill(now - OLD_OOM_AGE, pid=3117)
    if oom_kill:
        kernel += _oom_kill(now - timedelta(minutes=20), pid=4242)
    write_rotated(logs.kern_log, kernel, now)
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


_KERNEL = (
    "[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.{n} DST=10.20.0.5 PROTO=TCP SPT=443 DPT=22",
    "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
    'audit: type=1400 apparmor="STATUS" operation="profile_replace" name="nvidia_modprobe"',
)


def _kernel_lines(rng: random.Random, start: datetime, end: datetime) -> Iterator[Line]:
    uptime = 100.0
    for moment in _every(start, end, KERNEL_INTERVAL_S):
        uptime += KERNEL_INTERVAL_S
        message = rng.choice(_KERNEL).format(n=rng.randint(1, 254))
        yield moment, f"{_syslog(moment)} [{uptime:12.6f}] {message}"


def _oom_kill(moment: datetime, pid: int) -> list[Line]:
    uptime = (moment - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() % 10**6
    prefix = f"{_syslog(moment)} [{uptime:12.6f}]"
    return [
        (
            moment,
            f"{prefix} anomaly_detector invoked oom-killer: "
            "gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
        ),
        (
            moment,
            f"{prefix} Out of memory: Killed process {pid} (anomaly_detector) "
            "total-vm:8388608kB, anon-rss:7340032kB, file-rss:0kB, shmem-rss:0kB, UID:998 "
            "pgtables:14560kB oom_score_adj:0",
        ),
    ]
