"""Log checks: LogQL counts in Loki, matching lines in (rotated, compressed) files, journald.

Each counts log lines in a time window and judges the count against bands; review steps of
a runbook ("review ERROR logs") set ``informational: true`` and only report what they found.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from plugins.schema.base import Duration, StrictModel
from plugins.schema.prometheus import Judged, JudgedServiceCheck
from plugins.schema.registry import check_kind

_PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_PRIORITY_WORDS = frozenset((*_PRIORITIES, *"01234567"))


class LinePattern(Judged):
    """What a line must contain: a fixed string, or a regular expression with ``regex``."""

    pattern: str = ""
    regex: bool = False
    ignore_case: bool = False

    @model_validator(mode="after")
    def _valid_regex(self) -> LinePattern:
        if self.regex:
            try:
                re.compile(self.pattern)
            except re.error as problem:
                raise ValueError(f"pattern is not a valid regular expression: {problem}") from None
        return self

    def describe_pattern(self) -> str:
        """The pattern as an on-call engineer would grep for it."""
        if not self.pattern:
            return "any line"
        flags = "i" if self.ignore_case else ""
        return f"/{self.pattern}/{flags}" if self.regex else repr(self.pattern)


@check_kind("loki_count")
class LokiCountCheck(JudgedServiceCheck):
    """``sum by (...) (count_over_time(<logs> [window]))`` in Loki, against bands.

    ``logs`` is a LogQL log query (``{job="bridge"} |= "ERROR"``); ``by`` groups the count
    (each group judged and named); the newest matching lines come back as evidence.
    """

    probe: ClassVar[str] = "fixtures.loki:probe_count"
    kind: Literal["loki_count"] = "loki_count"
    logs: str = Field(min_length=3, pattern=r"^\s*\{")
    window: Duration = "1h"
    by: list[str] = Field(default_factory=list)
    evidence: int = Field(default=5, ge=0, le=20)


class Timestamp(StrictModel):
    """How lines start: ``auto`` (ISO-8601 or syslog) or a ``strptime`` format after a prefix.

    Apache/nginx access logs: ``{format: "%d/%b/%Y:%H:%M:%S %z", prefix: '\\S+ \\S+ \\S+ \\['}``.
    """

    format: str = "auto"
    prefix: str = ""


@check_kind("log_count")
class LogCountCheck(LinePattern):
    """Lines matching a pattern across log files (globs, rotated and gzipped) in a window.

    Runbook steps like ``grep -c ERROR /var/log/app/*.log``; lines with no timestamp of their
    own (stack traces) belong to the line before.
    """

    probe: ClassVar[str] = "fixtures.log_probes:probe_files"
    kind: Literal["log_count"] = "log_count"
    paths: list[str] = Field(min_length=1)
    window: Duration | None = None
    timestamp: Timestamp = Field(default_factory=Timestamp)

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


@check_kind("journal_count")
class JournalCountCheck(LinePattern):
    """journald entries (``journalctl -u UNIT -p err --since``) whose message matches.

    A host without a journal is an error with its reason, never zero entries. ``journalctl``
    names the reader to run (the demo points it at its simulation of journald).
    """

    probe: ClassVar[str] = "fixtures.log_probes:probe_journal"
    kind: Literal["journal_count"] = "journal_count"
    unit: str | None = None
    kernel: bool = Field(default=False, description="kernel messages only (journalctl -k)")
    priority: str | None = Field(default=None, description="emerg..debug or 0-7, as journalctl -p")
    window: Duration = "24h"
    journalctl: str = Field(
        default="journalctl",
        min_length=1,
        description="the journalctl command to run: a name on PATH or a path",
    )

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str | None) -> str | None:
        if value is None:
            return None
        ends = value.split("..")
        if len(ends) > 2 or not all(end in _PRIORITY_WORDS for end in ends):
            raise ValueError(f"priority {value!r}: use {', '.join(_PRIORITIES)} or 0-7 (a..b)")
        return value

    def subject(self) -> str:
        return self.component or self.unit or ("kernel" if self.kernel else self.kind)

    @model_validator(mode="after")
    def _selects_something(self) -> JournalCountCheck:
        if self.unit is None and not self.kernel and self.priority is None and not self.pattern:
            raise ValueError("select entries: give unit, kernel, priority or pattern")
        return self
