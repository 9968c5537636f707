"""A dated backup tree for the demo, as the seed systems' backup jobs would leave it.

Real dumps of the demo's PostgreSQL (started first by the ``postgres`` part) are written
under a temporary ``BACKUP_ROOT``, each file's mtime set to its backup time:

- ``aegis/``: backup.sh, daily, RETENTION_DAYS=7: ``aegis_db_<YYYYmmdd_HHMMSS>.dump``
  (pg_dump custom format) + ``redis_<...>.rdb``, and a ``SHA256SUMS`` manifest;
- ``aegis-c/``: the monthly ``backup_<YYYYmmdd>.sql`` (plain pg_dump) and the volume
  archives ``postgres_backup_<date>.tar.gz``, ``redis_backup_<date>.tar.gz``;
- ``aureus/``: the 2 AM CronJob's ``backup-<YYYYmmdd>.sql.gz`` (pg_dumpall | gzip);
- ``anomaly-detector/daily/<YYYYmmdd>/``: config, data, logs tar.gz + manifest.txt, 30 days;
- ``anomaly-detector/weekly/``: config-backup-<DATE>.tar.gz, service-<DATE>.conf,
  config-checksum-<DATE>.txt;
- ``bin/anomaly_detector.backup-<YYYYmmdd>``: the binary saved before an update.

``testbed.options.backups.faults`` damages it for the degraded demo (see ``FAULTS``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fixtures.observe import ObservationError
from fixtures.postgres import find_pg_program
from testbed.demo import RunningTestbed, TestbedError

logger = logging.getLogger(__name__)

DUMP_TIMEOUT_S = 60.0
AEGIS_KEEP = 7
DETECTOR_KEEP = 30
CONFIG_INI = b"[detector]\nport = 8080\nthreshold_sigma = 3.0\nbaseline_window = 7d\n"
SERVICE_UNIT = (
    b"[Service]\nExecStart=/usr/local/bin/anomaly_detector"
    b" --config /etc/anomaly-detector/config.ini\n"
)


@dataclass(frozen=True)
class Dumps:
    """The demo databases dumped once; every dated backup is a copy of these."""

    custom: bytes  # pg_dump -Fc aegis_db
    plain: bytes  # pg_dump postgres (what `pg_dump -U postgres` dumps)
    cluster: bytes  # pg_dumpall


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    host, port = running.variables.get("PG_HOST"), running.variables.get("PG_PORT")
    if not host or not port:
        raise TestbedError(
            "backups: start the postgres part before it (start: [postgres, backups])"
        )
    options = dict((spec.get("options") or {}).get("backups") or {})
    root = Path(tempfile.mkdtemp(prefix="vigil-demo-backups-"))
    running.stoppers.append(lambda: shutil.rmtree(root, ignore_errors=True))
    build(root, take_dumps(host, int(port)), faults=options.get("faults") or [])
    running.variables["BACKUP_ROOT"] = str(root)


def take_dumps(host: str, port: int, user: str = "postgres") -> Dumps:
    """Dump the demo cluster: aegis_db in custom format, postgres as SQL, all with pg_dumpall."""
    env = {**os.environ, "PGHOST": host, "PGPORT": str(port), "PGUSER": user}
    return Dumps(
        custom=_run_dump(["pg_dump", "--format=custom", "--dbname=aegis_db"], env),
        plain=_run_dump(["pg_dump", "--dbname=postgres"], env),
        cluster=_run_dump(["pg_dumpall"], env),
    )


def _run_dump(argv: list[str], env: dict[str, str]) -> bytes:
    try:
        program = find_pg_program(argv[0])
    except ObservationError as problem:
        raise TestbedError(f"backups: {problem.reason}; run scripts/install-services.sh") from None
    try:
        done = subprocess.run(
            [program, *argv[1:]], env=env, capture_output=True, timeout=DUMP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise TestbedError(f"backups: {argv[0]} took over {DUMP_TIMEOUT_S:.0f}s") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise TestbedError(f"backups: {argv[0]} failed: {' '.join(reason)}")
    return done.stdout


def build(
    root: Path, dumps: Dumps, now: datetime | None = None, faults: Iterable[str] = ()
) -> Path:
    """Write the whole tree under ``root`` as of ``now``, then apply ``faults``."""
    now = now or datetime.now()
    _aegis(root / "aegis", dumps, now)
    _aegis_c(root / "aegis-c", dumps, now)
    _aureus(root / "aureus", dumps, now)
    _detector_daily(root / "anomaly-detector" / "daily", now, range(DETECTOR_KEEP))
    _detector_weekly(root / "anomaly-detector" / "weekly", now)
    binary = root / "bin" / f"anomaly_detector.backup-{now:%Y%m%d}"
    _write(binary, b"\x7fELF\x02\x01\x01" + os.urandom(4096), now - timedelta(hours=1))
    for fault in faults:
        if fault not in FAULTS:
            known = ", ".join(sorted(FAULTS))
            raise TestbedError(f"backups: unknown fault {fault!r} (known: {known})")
        FAULTS[fault](root, dumps, now)
        logger.info("backups demo fault applied: %s", fault)
    return root


def _write(path: Path, data: bytes, when: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def _at_two(now: datetime, days_ago: int) -> datetime:
    day = now - timedelta(days=days_ago)
    return day.replace(hour=2, minute=0, second=0, microsecond=0)


def _aegis(directory: Path, dumps: Dumps, now: datetime, keep: int = AEGIS_KEEP) -> None:
    for days_ago in range(keep):
        taken = _at_two(now, days_ago)
        stamp = f"{taken:%Y%m%d_%H%M%S}"
        _write(directory / f"aegis_db_{stamp}.dump", dumps.custom, taken)
        _write(directory / f"redis_{stamp}.rdb", _rdb(days_ago), taken)
    write_manifest(directory)


def write_manifest(directory: Path, name: str = "SHA256SUMS") -> None:
    """A sha256sum-format manifest of every other file in ``directory``."""
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != name
    ]
    (directory / name).write_text("".join(lines), encoding="utf-8")


def _rdb(seed: int) -> bytes:
    return b"REDIS0010\xfa\tredis-ver\x067.0.15" + bytes([seed % 256]) * 256 + b"\xff" + b"\0" * 8


def _aegis_c(directory: Path, dumps: Dumps, now: datetime) -> None:
    for days_ago in (3, 33, 63):
        taken = _at_two(now, days_ago)
        _write(directory / f"backup_{taken:%Y%m%d}.sql", dumps.plain, taken)
        volume = {"PG_VERSION": b"15\n", "base/1/1259": os.urandom(8192)}
        _write(directory / f"postgres_backup_{taken:%Y%m%d}.tar.gz", _targz(volume), taken)
        redis_volume = {
            "dump.rdb": _rdb(days_ago),
            "appendonlydir/appendonly.aof.1.base.rdb": _rdb(1),
        }
        _write(directory / f"redis_backup_{taken:%Y%m%d}.tar.gz", _targz(redis_volume), taken)


def _aureus(directory: Path, dumps: Dumps, now: datetime) -> None:
    packed = gzip.compress(dumps.cluster, mtime=0)
    for days_ago in range(7):
        taken = _at_two(now, days_ago)
        _write(directory / f"backup-{taken:%Y%m%d}.sql.gz", packed, taken)


def _detector_daily(directory: Path, now: datetime, days: range) -> None:
    config = _targz({"etc/anomaly-detector/config.ini": CONFIG_INI})
    data = _targz(
        {
            "var/lib/anomaly-detector/baselines/latency.json": b'{"mean": 41.2, "stddev": 6.1}',
            "var/lib/anomaly-detector/statistics/daily.json": b'{"samples": 86400}',
        }
    )
    logs = _targz({"var/log/anomaly-detector/detector.log": b"INFO started\n" * 200})
    for days_ago in days:
        taken = _at_two(now, days_ago)
        folder = directory / f"{taken:%Y%m%d}"
        for name, content in (
            ("config.tar.gz", config),
            ("data.tar.gz", data),
            ("logs.tar.gz", logs),
        ):
            _write(folder / name, content, taken)
        manifest = f"Backup Date: {taken:%a %b %d %H:%M:%S %Y}\nHostname: detector-01\n"
        _write(folder / "manifest.txt", manifest.encode(), taken)
        os.utime(folder, (taken.timestamp(), taken.timestamp()))


def _detector_weekly(directory: Path, now: datetime) -> None:
    config = _targz({"etc/anomaly-detector/config.ini": CONFIG_INI})
    checksum = f"{hashlib.sha256(CONFIG_INI).hexdigest()}  /etc/anomaly-detector/config.ini\n"
    for weeks_ago in range(4):
        taken = (now - timedelta(weeks=weeks_ago, days=1)).replace(hour=3, minute=15, second=7)
        stamp = f"{taken:%Y%m%d_%H%M%S}"
        _write(directory / f"config-backup-{stamp}.tar.gz", config, taken)
        _write(directory / f"service-{stamp}.conf", SERVICE_UNIT, taken)
        _write(directory / f"config-checksum-{stamp}.txt", checksum.encode(), taken)


def _targz(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# -- faults --------------------------------------------------------------------------------


def newest(directory: Path, pattern: str) -> Path:
    """The last match of ``pattern`` in name order (dated names sort by date)."""
    matches = sorted(directory.glob(pattern))
    if not matches:
        raise TestbedError(f"backups: nothing matches {pattern} in {directory}")
    return matches[-1]


def corrupt(path: Path) -> None:
    """Overwrite bytes in the middle of ``path``, keeping its size and mtime."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    os.utime(path, (stat.st_atime, stat.st_mtime))


def _corrupt_archive(root: Path, dumps: Dumps, now: datetime) -> None:
    # The runbook's verify loop prints "CORRUPTED" for this one and still exits 0.
    corrupt(newest(root / "anomaly-detector" / "daily", "*") / "data.tar.gz")


def _truncated_dump(root: Path, dumps: Dumps, now: datetime) -> None:
    # pg_dumpall died half-way and, without pipefail, gzip still wrote a valid file.
    path = newest(root / "aureus", "backup-*.sql.gz")
    stat = path.stat()
    path.write_bytes(gzip.compress(dumps.cluster[: len(dumps.cluster) * 6 // 10], mtime=0))
    os.utime(path, (stat.st_atime, stat.st_mtime))


def _checksum_mismatch(root: Path, dumps: Dumps, now: datetime) -> None:
    corrupt(newest(root / "aegis", "aegis_db_*.dump"))


def _stale(root: Path, dumps: Dumps, now: datetime) -> None:
    # backup.sh stopped three days ago: the newest three sets never happened.
    directory = root / "aegis"
    for days_ago in range(3):
        for path in directory.glob(f"*_{_at_two(now, days_ago):%Y%m%d_%H%M%S}.*"):
            path.unlink()
    write_manifest(directory)


def _retention_broken(root: Path, dumps: Dumps, now: datetime) -> None:
    # Only older directories are added, so other faults on the newest ones stay.
    _detector_daily(
        root / "anomaly-detector" / "daily", now, range(DETECTOR_KEEP, DETECTOR_KEEP + 10)
    )


def _missing_file(root: Path, dumps: Dumps, now: datetime) -> None:
    (newest(root / "anomaly-detector" / "daily", "*") / "logs.tar.gz").unlink()


FAULTS: dict[str, Callable[[Path, Dumps, datetime], None]] = {
    "corrupt_archive": _corrupt_archive,
    "truncated_dump": _truncated_dump,
    "checksum_mismatch": _checksum_mismatch,
    "stale": _stale,
    "retention_broken": _retention_broken,
    "missing_file": _missing_file,
}
