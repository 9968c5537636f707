"""Tests of the log scanner (fixtures.logscan), its vocabulary (fixtures.logs) and journald reader.

The journald tests point ``journalctl=`` at a stand-in script that prints journalctl's JSON
export format; the real journalctl is only asked on this host, which has no journal.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.journald import JournalQuery, journal_count, scan_journal
from fixtures.logs import (
    EVIDENCE_CHARS,
    Fixed,
    FixedMatcher,
    LogSourceError,
    PatternSpec,
    Regex,
    TimestampFormat,
    evidence_text,
)
from fixtures.logscan import count_matching_lines, expand_paths, scan_logs

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# tmp_path is shared by a test's examples; each example rewrites the one file it uses.
FUNCTION_FIXTURE = [HealthCheck.function_scoped_fixture]


def naive_lines(data: bytes) -> list[bytes]:
    """The lines grep sees: split on newlines, no empty line after a final newline."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- chunk boundaries -------------------------------------------------------------------------

LINE = st.text(alphabet="ERO Unauth\rx", max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=FUNCTION_FIXTURE)
@given(
    lines=st.lists(LINE, max_size=40),
    final_newline=st.booleans(),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_counts_equal_a_naive_line_loop_for_any_chunk_size(
    tmp_path: Path, lines: list[str], final_newline: bool, chunk: int
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if final_newline and lines else b"")
    path = write(tmp_path / "app.log", data)
    patterns: dict[str, PatternSpec] = {
        "err": "ERR",
        "rr": "RR",
        "single": "x",
        "empty": "",
        "regex": Regex(r"^E.*h$"),
        "blank": Regex(r"^$"),
        "icase": Fixed("err", ignore_case=True),
    }
    checks: dict[str, Callable[[bytes], bool]] = {
        "err": lambda line: b"ERR" in line,
        "rr": lambda line: b"RR" in line,
        "single": lambda line: b"x" in line,
        "empty": lambda line: True,
        "regex": lambda line: re.search(rb"^E.*h$", line) is not None,
        "blank": lambda line: line == b"",
        "icase": lambda line: b"err" in line.lower(),
    }
    scan = scan_logs(str(path), patterns, chunk_bytes=chunk)
    expected = {name: sum(map(check, naive_lines(data))) for name, check in checks.items()}
    assert scan.counts == expected


@pytest.mark.parametrize(
    ("filler", "sprinkled", "needle", "strategy"),
    [
        (b"2024-05-01T12:00:00Z INFO steady state", b"x ERROR y ERROR", b"ERROR", "memchr"),
        (b"ba ba bb aa " * 10, b"x ab y ab", b"ab", "memmem"),  # common bytes, sparse lines
        (b"ERROR ERROR and ERROR again", b"x ERROR", b"ERROR", "findall"),  # dense lines
        (b"aaaaaaa", b"b", b"aa", "findall"),  # overlapping occurrences in one line
    ],
)
def test_fixed_matcher_counts_lines_not_occurrences(
    filler: bytes, sprinkled: bytes, needle: bytes, strategy: str
) -> None:
    lines = [filler] * 3000
    lines[::97] = [sprinkled] * len(lines[::97])
    data = b"\n".join(lines)
    # Text past `end` holds the needle too: it must not be counted.
    buf = bytearray(data + b"\n" + sprinkled)
    expected = sum(needle in line for line in lines)
    matcher = FixedMatcher(needle)
    assert matcher.count_lines(buf, len(data)) == expected
    assert matcher.strategy == strategy
    assert FixedMatcher(needle, use_libc=False).count_lines(buf, len(data)) == expected
    assert sum(1 for _ in matcher.matching_lines(buf, len(data))) == expected


SPARSE_LINE = st.one_of(
    st.integers(0, 40).map(lambda n: b"ba " * n),
    st.tuples(st.integers(0, 20), st.integers(0, 20)).map(
        lambda t: b"b" * t[0] + b"ab" + b"a" * t[1]
    ),
    st.just(b"ab ab"),
    st.just(b""),
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(SPARSE_LINE, max_size=60), cut=st.integers(0, 60))
def test_memmem_counts_equal_a_naive_line_loop(lines: list[bytes], cut: int) -> None:
    # A hit-free 64 KiB lead makes the sample choose memmem; `cut` ends the region early and
    # leaves later lines (hits included) in the buffer beyond `end`.
    lead = [b"ba ba ba"] * 8192
    region = lead + lines[:cut]
    end = len(b"\n".join(region))
    buf = bytearray(b"\n".join(region + lines[cut:]))
    matcher = FixedMatcher(b"ab")
    assert matcher.count_lines(buf, end) == sum(b"ab" in line for line in region)
    assert matcher.strategy == "memmem"


def test_fixed_matcher_moves_to_findall_when_matching_lines_turn_dense() -> None:
    # The sample (first 64 KiB) has no hit; the rest of the region is all hits.
    data = b"\n".join([b"ba ba ba"] * 8192 + [b"x ab"] * 20_000)
    matcher = FixedMatcher(b"ab")
    assert matcher.count_lines(bytearray(data), len(data)) == 20_000
    assert matcher.strategy == "memmem"
    assert matcher.count_lines(bytearray(data), len(data)) == 20_000
    assert matcher.strategy == "findall"


def test_a_line_longer_than_the_chunk_is_read_whole(tmp_path: Path) -> None:
    long_line = b"x" * 10_000 + b"ERROR" + b"y" * 10_000
    path = write(tmp_path / "app.log", b"a\n" + long_line + b"\nERROR\n")
    assert count_matching_lines(str(path), {"e": "ERROR"}) == {"e": 2}
    scan = scan_logs(str(path), {"e": "ERROR"}, chunk_bytes=64)
    assert scan.counts == {"e": 2}
    with pytest.raises(LogSourceError, match="longer than 4096 bytes"):
        scan_logs(str(path), {"e": "ERROR"}, chunk_bytes=64, max_line_bytes=4096)


# --- files, rotation, compression ------------------------------------------------------------


def rotated_set(directory: Path) -> None:
    write(directory / "app.log", b"current ERROR\nok\n")
    write(directory / "app.log.1", b"first rotation ERROR\n")
    (directory / "app.log.2.gz").write_bytes(gzip.compress(b"second ERROR\nERROR again\n"))
    (directory / "app.log.10.gz").write_bytes(gzip.compress(b"tenth ERROR\n"))
    (directory / "app.log.3.bz2").write_bytes(bz2.compress(b"third ERROR\n"))
    (directory / "app.log.4.xz").write_bytes(lzma.compress(b"fourth ERROR\n"))
    (directory / "app.log-20240502.gz").write_bytes(gzip.compress(b"dated ERROR newer\n"))
    (directory / "app.log-20240501.gz").write_bytes(gzip.compress(b"dated ERROR older\n"))


def test_glob_expands_in_rotation_order(tmp_path: Path) -> None:
    rotated_set(tmp_path)
    names = [path.name for path in expand_paths(str(tmp_path / "app.log*"))]
    assert names == [
        "app.log",
        "app.log.1",
        "app.log.2.gz",
        "app.log.3.bz2",
        "app.log.4.xz",
        "app.log.10.gz",
        "app.log-20240502.gz",
        "app.log-20240501.gz",
    ]


def test_rotated_and_compressed_files_are_all_counted(tmp_path: Path) -> None:
    rotated_set(tmp_path)
    scan = scan_logs(str(tmp_path / "app.log*"), {"e": "ERROR", "again": "again"})
    assert scan.counts == {"e": 9, "again": 1}
    assert scan.evidence["e"] == (
        "current ERROR",
        "first rotation ERROR",
        "second ERROR",
        "ERROR again",
        "third ERROR",
    )
    assert len(scan.sources) == 8


def test_compression_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    (tmp_path / "app.log.1").write_bytes(gzip.compress(b"ERROR hidden in gzip\n"))
    assert count_matching_lines([tmp_path / "app.log.1"], {"e": "ERROR"}) == {"e": 1}


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ("missing.log", "no such log file"),
        ("*.nothing", "no log files match"),
        (".", "not a regular file"),
        ([], "no log files given"),
    ],
)
def test_unreadable_sources_are_errors_not_zero(
    tmp_path: Path, paths: str | list[str], message: str
) -> None:
    target = paths if isinstance(paths, list) else str(tmp_path / paths)
    with pytest.raises(LogSourceError, match=message):
        count_matching_lines(target, {"e": "ERROR"})


def test_a_corrupt_gzip_file_is_an_error_naming_it(tmp_path: Path) -> None:
    whole = gzip.compress(b"ERROR\n" * 1000)
    path = write(tmp_path / "app.log.2.gz", whole[: len(whole) // 2])
    with pytest.raises(LogSourceError, match=r"app\.log\.2\.gz: cannot read"):
        count_matching_lines(str(path), {"e": "ERROR"})


def test_bad_patterns_are_rejected_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "app.log", b"x\n")
    with pytest.raises(ValueError, match="pattern 'two': a fixed pattern cannot contain"):
        count_matching_lines(str(path), {"two": "a\nb"})
    with pytest.raises(ValueError, match="pattern 'bad'"):
        count_matching_lines(str(path), {"bad": Regex("(")})
    with pytest.raises(ValueError, match="no patterns"):
        count_matching_lines(str(path), {})


# --- regular expressions ----------------------------------------------------------------------


def test_regex_patterns_match_within_lines(tmp_path: Path) -> None:
    data = b"GET /a 401\nPOST /b 403\nport 14015\nERROR\nx\nerror: Disk full\n"
    path = write(tmp_path / "access.log", data)
    counts = count_matching_lines(
        str(path),
        {
            "auth": Regex(r"\b40[13]\b"),
            "grep_alternation": Regex(r"401|403"),  # matches the port too, as grep does
            "across_lines": Regex(r"ERROR\s+x"),  # would need two lines: grep finds none
            "verbs": re.compile(r"^(GET|POST) "),
            "icase": Regex("disk FULL", ignore_case=True),
        },
    )
    assert counts == {"auth": 2, "grep_alternation": 3, "across_lines": 0, "verbs": 2, "icase": 1}


# --- time windows -----------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_continuation_lines_belong_to_the_preceding_timestamp(tmp_path: Path) -> None:
    lines = [
        f"{iso(T0)} INFO before the window",
        "  ERROR in a continuation of a line before the window",
        f"{iso(T0 + timedelta(minutes=5))} ERROR inside",
        "Traceback (most recent call last):",
        "  ERROR continuation inside",
        f"{iso(T0 + timedelta(minutes=10))} ERROR at until: outside",
        "  ERROR continuation outside",
    ]
    path = write(tmp_path / "app.log", "\n".join(lines).encode())
    since, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=10)
    for chunk in (1, 7, 64, 4096):
        scan = scan_logs(str(path), {"e": "ERROR"}, since, until, chunk_bytes=chunk)
        assert scan.counts == {"e": 2}, chunk
        assert scan.evidence["e"] == (lines[2], lines[4])


ENTRY = st.tuples(
    st.one_of(st.none(), st.integers(min_value=0, max_value=59)),
    st.text(alphabet="ERO x", max_size=12),
)


@settings(max_examples=100, deadline=None, suppress_health_check=FUNCTION_FIXTURE)
@given(
    entries=st.lists(ENTRY, max_size=30),
    bounds=st.tuples(st.integers(0, 60), st.integers(1, 60)),
    chunk=st.integers(min_value=1, max_value=80),
)
def test_window_counts_equal_a_naive_attribution(
    tmp_path: Path, entries: list[tuple[int | None, str]], bounds: tuple[int, int], chunk: int
) -> None:
    since, until = T0 + timedelta(minutes=bounds[0]), T0 + timedelta(minutes=bounds[0] + bounds[1])
    lines = [
        text if minute is None else f"{iso(T0 + timedelta(minutes=minute))} {text}"
        for minute, text in entries
    ]
    path = write(tmp_path / "app.log", "\n".join(lines).encode())
    current: datetime | None = None
    expected = 0
    for minute, text in entries:
        if minute is not None:
            current = T0 + timedelta(minutes=minute)
        in_window = current is not None and since <= current < until
        expected += in_window and "ERR" in text
    if not any(minute is not None for minute, _ in entries) and any("ERR" in t for _, t in entries):
        with pytest.raises(LogSourceError, match="no ISO-8601 or syslog timestamp"):
            scan_logs(str(path), {"e": "ERR"}, since, until, chunk_bytes=chunk)
        return
    scan = scan_logs(str(path), {"e": "ERR"}, since, until, chunk_bytes=chunk)
    assert scan.counts == {"e": expected}


def test_offsets_naive_bounds_and_syslog_years(tmp_path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    data = (
        b"2024-05-01 14:30:00,120 +02:00 ERROR 12:30 UTC\n"  # in the window
        b"2024-05-01T13:30:00 ERROR naive, taken as UTC\n"  # after the window
        b"[2024-05-01 12:10:00] ERROR bracketed\n"  # in
    )
    path = write(tmp_path / "app.log", data)
    counts = count_matching_lines(
        str(path), {"e": "ERROR"}, since=datetime(2024, 5, 1, 12), until=T0 + timedelta(hours=1)
    )
    assert counts == {"e": 2}
    in_berlin = TimestampFormat.iso8601(tz=plus_two)
    counts = count_matching_lines(
        str(path), {"e": "ERROR"}, since=T0, until=T0 + timedelta(hours=1), timestamp=in_berlin
    )
    assert counts == {"e": 1}  # 13:30+02:00 is 11:30 UTC: out; 12:10+02:00 is 10:10 UTC: out

    syslog = write(
        tmp_path / "syslog",
        b"Dec 31 23:59:00 host app: ERROR old year\nJan  1 00:01:00 host app: ERROR new year\n",
    )
    new_year = datetime(2025, 1, 1, 0, 30, tzinfo=UTC)
    os.utime(syslog, (new_year.timestamp(), new_year.timestamp()))
    last_hour = new_year - timedelta(hours=1)
    assert count_matching_lines(str(syslog), {"e": "ERROR"}, last_hour, new_year) == {"e": 2}
    midnight = datetime(2025, 1, 1, tzinfo=UTC)
    assert count_matching_lines(str(syslog), {"e": "ERROR"}, midnight, new_year) == {"e": 1}


def test_strptime_format_after_a_prefix(tmp_path: Path) -> None:
    access = (
        '10.0.0.1 - - [01/May/2024:12:00:01 +0000] "GET /api HTTP/1.1" 401 12\n'
        '10.0.0.2 - - [01/May/2024:14:00:01 +0200] "GET /api HTTP/1.1" 401 12\n'
        '10.0.0.3 - - [01/May/2024:13:00:01 +0000] "GET /api HTTP/1.1" 401 12\n'
    )
    path = write(tmp_path / "access.log", access.encode())
    fmt = TimestampFormat.strptime("%d/%b/%Y:%H:%M:%S %z", prefix=r"\S+ \S+ \S+ \[")
    counts = count_matching_lines(
        str(path), {"401": '" 401 '}, since=T0, until=T0 + timedelta(hours=1), timestamp=fmt
    )
    assert counts == {"401": 2}
    with pytest.raises(ValueError, match="unsupported strptime directive %Q"):
        TimestampFormat.strptime("%Q")


def test_files_written_before_the_window_are_skipped_unread(tmp_path: Path) -> None:
    whole = gzip.compress(b"ERROR\n")
    old = write(tmp_path / "app.log.1.gz", whole[:-4])  # corrupt: reading it would fail
    write(tmp_path / "app.log", f"{iso(T0)} ERROR now\n".encode())
    stamp = (T0 - timedelta(days=2)).timestamp()
    os.utime(old, (stamp, stamp))
    scan = scan_logs(str(tmp_path / "app.log*"), {"e": "ERROR"}, since=T0 - timedelta(hours=1))
    assert scan.counts == {"e": 1}
    assert scan.skipped == (str(old),)
    with pytest.raises(LogSourceError, match="cannot read"):
        scan_logs(str(tmp_path / "app.log*"), {"e": "ERROR"}, since=T0 - timedelta(days=3))


# --- evidence ---------------------------------------------------------------------------------


def test_evidence_is_short_masked_and_limited(tmp_path: Path) -> None:
    lines = [
        f"ERROR {n} login failed password=hunter{n} Authorization: Bearer abcdef123456"
        for n in range(8)
    ]
    lines.append("ERROR " + "y" * 500)
    path = write(tmp_path / "app.log", "\n".join(lines).encode())
    scan = scan_logs(str(path), {"e": "ERROR"})
    assert scan.counts == {"e": 9}
    assert len(scan.evidence["e"]) == 5
    assert scan.evidence["e"][0].startswith("ERROR 0 login failed password=***")
    assert not any("hunter" in line or "abcdef" in line for line in scan.evidence["e"])
    assert len(evidence_text(lines[-1].encode())) == EVIDENCE_CHARS
    described = scan.describe("e")
    assert described.splitlines()[0] == f"9 line(s) matching 'e' in {path}"
    assert described.count("\n  | ERROR") == 5


# --- memory -----------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from fixtures.logscan import scan_logs
    scan = scan_logs(sys.argv[2:], {"e": "ERROR", "u": "Unauthorized"})
    # VmHWM is this process image's own peak; ru_maxrss would include pytest's RSS, which
    # Linux carries across the fork/vfork and exec that started this child.
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    json.dump({"counts": scan.counts, "peak_kib": peak}, sys.stdout)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_memory_stays_bounded_on_a_100_mb_file(tmp_path: Path) -> None:
    block = b"".join(
        iso(T0 + timedelta(milliseconds=n)).encode()
        + (b" ERROR failed\n" if n % 50 == 0 else b" INFO ok " + b"." * 90 + b"\n")
        + (b" WARN 401 Unauthorized\n" if n % 200 == 0 else b"")
        for n in range(10_000)
    )
    repeats = (100 << 20) // len(block) + 1
    path = tmp_path / "big.log"
    with path.open("wb") as out:
        for _ in range(repeats):
            out.write(block)
    compressed = tmp_path / "big.log.1.gz"
    with path.open("rb") as src, gzip.open(compressed, "wb", compresslevel=1) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    assert path.stat().st_size >= 100 << 20
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(path), str(compressed)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["counts"] == {"e": 2 * repeats * 200, "u": 2 * repeats * 50}
    assert result["peak_kib"] < 64 * 1024, result


# --- journald ---------------------------------------------------------------------------------


def journal_exists() -> bool:
    return any(
        Path(p).is_dir() and any(Path(p).iterdir())
        for p in ("/run/log/journal", "/var/log/journal")
    )


@pytest.mark.skipif(journal_exists(), reason="this host has a systemd journal")
def test_real_journalctl_without_a_journal_is_an_error() -> None:
    with pytest.raises(LogSourceError, match=r"no systemd journal|journalctl: not found"):
        journal_count("anomaly-detector", {"e": "ERROR"}, since=T0, timeout=10)


def test_missing_journalctl_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LogSourceError, match="not found"):
        journal_count("x", {"e": "ERROR"}, journalctl=str(tmp_path / "journalctl"))


FAKE = """#!{python}
# Stand-in for journalctl: prints entries in journalctl's `-o json` export format.
import json, sys, time
args = sys.argv[1:]
with open({calls!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
mode = {mode!r}
if "-n" in args:
    if mode == "no-journal":
        sys.stderr.write("No journal files were found.\\n")
    if mode == "partial":
        sys.stderr.write("Hint: You are currently not seeing messages from other users and "
                         "the system.\\n")
    print("-- No entries --")
    sys.exit(0)
if mode == "slow":
    time.sleep(30)
if mode == "fail":
    sys.stderr.write("Failed to add filter for units: No data available\\n")
    sys.exit(1)
if mode == "garbage":
    print("this is not json")
unit = args[args.index("-u") + 1] + ".service" if "-u" in args else None
since = int(args[args.index("--since") + 1][1:]) * 10**6 if "--since" in args else 0
until = int(args[args.index("--until") + 1][1:]) * 10**6 if "--until" in args else 10**20
for entry in {entries!r}:
    stamp = int(entry["__REALTIME_TIMESTAMP"])
    if (unit is None or entry["_SYSTEMD_UNIT"] == unit) and since <= stamp <= until:
        print(json.dumps(entry), flush=True)
"""


def entry(
    moment: datetime, message: str | list[int], unit: str = "anomaly-detector"
) -> dict[str, object]:
    micros = int(moment.timestamp() * 1_000_000)
    return {
        "__REALTIME_TIMESTAMP": str(micros),
        "_SYSTEMD_UNIT": f"{unit}.service",
        "PRIORITY": "3",
        "MESSAGE": message,
    }


ENTRIES = [
    entry(T0, "ERROR first"),
    entry(T0 + timedelta(seconds=30), "worker crashed\nERROR in line two\nERROR again"),
    entry(T0 + timedelta(seconds=30, microseconds=500_000), list(b"ERROR \xff raw bytes")),
    entry(T0 + timedelta(minutes=2), "INFO fine"),
    entry(T0 + timedelta(minutes=3), "ERROR other unit", unit="redis"),
    entry(T0 + timedelta(minutes=59, seconds=59, microseconds=999_999), "ERROR last"),
]


@pytest.fixture
def fake_journalctl(tmp_path: Path) -> Iterator[Callable[[str], tuple[str, Path]]]:
    def make(mode: str) -> tuple[str, Path]:
        calls = tmp_path / f"calls-{mode}.jsonl"
        script = tmp_path / f"journalctl-{mode}"
        script.write_text(
            FAKE.format(python=sys.executable, calls=str(calls), mode=mode, entries=ENTRIES)
        )
        script.chmod(0o755)
        return str(script), calls

    yield make


def test_journal_entries_are_counted_from_json(
    fake_journalctl: Callable[[str], tuple[str, Path]],
) -> None:
    journalctl, calls = fake_journalctl("ok")
    counts = journal_count(
        "anomaly-detector",
        {"e": "ERROR", "raw": Regex(r"\xff"), "fine": "fine", "line_two": Regex("^ERROR in")},
        since=T0,
        until=T0 + timedelta(minutes=59, seconds=59, microseconds=999_999),
        journalctl=journalctl,
    )
    assert counts == {"e": 3, "raw": 1, "fine": 1, "line_two": 1}
    preflight, query = (json.loads(line) for line in calls.read_text().splitlines())
    assert preflight == ["-n", "0", "--no-pager"]
    since, until = int(T0.timestamp()), int(T0.timestamp()) + 3600
    assert query == [
        "-u",
        "anomaly-detector",
        "--since",
        f"@{since}",
        "--until",
        f"@{until}",
        "-o",
        "json",
        "--all",
        "--no-pager",
    ]


def test_journal_scan_keeps_evidence_and_reads_byte_array_messages(
    fake_journalctl: Callable[[str], tuple[str, Path]],
) -> None:
    journalctl, calls = fake_journalctl("ok")
    query = JournalQuery(unit="anomaly-detector", priority="err", since=T0)
    scan = scan_journal(query, {"e": "ERROR", "raw": "raw bytes"}, journalctl=journalctl)
    assert scan.counts == {"e": 4, "raw": 1}
    assert scan.evidence["e"] == (
        "ERROR first",
        "ERROR in line two",
        "ERROR \ufffd raw bytes",
        "ERROR last",
    )
    assert json.loads(calls.read_text().splitlines()[1])[:4] == [
        "-u",
        "anomaly-detector",
        "-p",
        "err",
    ]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("no-journal", "no systemd journal on this host"),
        ("partial", "only partly readable"),
        ("fail", r"journalctl failed \(1\): Failed to add filter"),
        ("garbage", "invalid JSON on line 1"),
    ],
)
def test_journal_problems_are_errors(
    fake_journalctl: Callable[[str], tuple[str, Path]], mode: str, message: str
) -> None:
    journalctl, _ = fake_journalctl(mode)
    with pytest.raises(LogSourceError, match=message):
        journal_count("anomaly-detector", {"e": "ERROR"}, journalctl=journalctl)


def test_a_hanging_journalctl_is_killed_at_the_timeout(
    fake_journalctl: Callable[[str], tuple[str, Path]],
) -> None:
    journalctl, _ = fake_journalctl("slow")
    started = time.monotonic()
    with pytest.raises(LogSourceError, match="did not finish within 1s"):
        journal_count("anomaly-detector", {"e": "ERROR"}, journalctl=journalctl, timeout=1)
    assert time.monotonic() - started < 10
