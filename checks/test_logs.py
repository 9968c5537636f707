"""Log checks: LogQL counts in Loki, matching lines in log files, journald entries.

Catalogue kinds log_pattern and error_rate where the source is Loki, a log file or the
journal. A count past its bands fails with up to five of the matching lines; a source that
cannot be read (Loki down, no such file, no journal on the host) is an error, never zero.
Informational entries (review steps) record the count and the lines, and never fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from fixtures.log_probes import LineCount, with_evidence
from fixtures.loki import LokiCount
from fixtures.prometheus import judge_series
from fixtures.verdict import CheckFailure, judge
from plugins.schema.logs import JournalCountCheck, LogCountCheck, LokiCountCheck

Record = Callable[[str, object], None]


def _report(record_property: Record, observed: str, summary: str, lines: Sequence[str]) -> None:
    record_property("observed", observed)
    record_property("message", summary + "".join(f"\n  | {line}" for line in lines))


@pytest.mark.kind("loki_count")
@pytest.mark.severity("medium")
def test_loki_count(check: LokiCountCheck, observation: LokiCount, record_property: Record) -> None:
    values = [(one.name if one.labels else "", one.value) for one in observation.series]
    what = f"{check.service}: {observation.query}"
    bands = check.limits()
    if bands is None:
        counts = ", ".join(f"{name or 'total'} {value:g}" for name, value in values)
        _report(
            record_property, f"{observation.total} lines", f"{what}: {counts}", observation.evidence
        )
        return
    try:
        judge_series(what, values, bands)
    except CheckFailure as failure:
        raise with_evidence(failure, observation.evidence) from None


def _judge_lines(
    check: LogCountCheck | JournalCountCheck, observation: LineCount, record_property: Record
) -> None:
    __tracebackhide__ = True
    what = f"{observation.what} in {observation.window}"
    bands = check.limits()
    if bands is None:
        _report(
            record_property,
            f"{observation.matched} lines",
            f"{what}: {observation.matched}",
            observation.evidence(),
        )
        return
    try:
        judge(what, observation.matched, bands)
    except CheckFailure as failure:
        raise with_evidence(failure, observation.evidence()) from None


@pytest.mark.kind("log_count")
@pytest.mark.severity("medium")
def test_log_count(check: LogCountCheck, observation: LineCount, record_property: Record) -> None:
    _judge_lines(check, observation, record_property)


@pytest.mark.kind("journal_count")
@pytest.mark.severity("medium")
def test_journal_count(
    check: JournalCountCheck, observation: LineCount, record_property: Record
) -> None:
    _judge_lines(check, observation, record_property)
