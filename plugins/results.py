"""A check's result as reports carry it: built from ``TestReport`` data alone.

Everything Vigil adds to a test rides in ``report.user_properties`` (so JUnit XML and xdist
carry it too); this module names those properties and reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from plugins.scale import rank

# Property names, in the order they appear in JUnit XML.
STATIC_PROPERTIES = (
    "check",
    "kind",
    "component",
    "ref",
    "tags",
    "severity",
    "escalation_level",
    "escalate_to",
    "respond_within",
    "channel",
    "runbook",
    "environment",
)
DYNAMIC_PROPERTIES = ("observed", "expected", "band", "message", "remediation")


@dataclass
class CheckResult:
    """One check's outcome with everything the on-call engineer needs."""

    nodeid: str
    check: str
    kind: str
    outcome: str  # passed | failed | error | skipped
    severity: str
    component: str = ""
    ref: str = ""
    tags: str = ""
    escalation_level: int = 0
    escalate_to: str = ""
    respond_within: str = ""
    channel: str = ""
    runbook: str = ""
    environment: str = ""
    observed: str = ""
    expected: str = ""
    band: str = ""
    message: str = ""
    remediation: str = ""
    duration: float = 0.0

    @property
    def is_problem(self) -> bool:
        return self.outcome in ("failed", "error")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Incident:
    """The run's failures rolled up into one incident level."""

    name: str
    severity: str
    escalation_level: int
    escalate_to: str
    respond_within: str
    channel: str = ""
    rule: str = ""
    checks: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    """What the run found: every result, counts, and the rolled-up incident."""

    environment: str
    results: list[CheckResult]
    incident: Incident | None
    counts: dict[str, int]


def properties(report: pytest.TestReport | pytest.CollectReport) -> dict[str, Any]:
    """The report's user properties as a dict (later entries win; none on collect reports)."""
    return {str(name): value for name, value in getattr(report, "user_properties", ())}


def set_properties(report: pytest.TestReport, **values: Any) -> None:
    """Add or replace user properties on a report."""
    keep = [(n, v) for n, v in report.user_properties if n not in values]
    report.user_properties = [*keep, *values.items()]


def result_from_report(
    report: pytest.TestReport, previous: CheckResult | None
) -> CheckResult | None:
    """Fold one phase's report into the test's result (None for tests that are not checks)."""
    props = properties(report)
    if "check" not in props:
        return None
    outcome = _outcome(report)
    if previous is not None:
        previous.duration += report.duration
        if (outcome in ("failed", "error") and not previous.is_problem) or report.when == "call":
            _fill(previous, props, outcome)
        return previous
    result = CheckResult(
        nodeid=report.nodeid,
        check=str(props["check"]),
        kind=str(props.get("kind", "")),
        outcome=outcome,
        severity=str(props.get("severity", "medium")),
        duration=report.duration,
    )
    _fill(result, props, outcome)
    return result


def _outcome(report: pytest.TestReport) -> str:
    if report.skipped:
        return "skipped"
    if report.passed:
        return "passed"
    return "failed" if report.when == "call" else "error"


def _fill(result: CheckResult, props: dict[str, Any], outcome: str) -> None:
    result.outcome = outcome
    for name in (*STATIC_PROPERTIES, *DYNAMIC_PROPERTIES):
        if name in props and name not in ("check", "kind"):
            value = props[name]
            setattr(result, name, int(value) if name == "escalation_level" else str(value))


def worst_first(results: Iterable[CheckResult]) -> list[CheckResult]:
    """Problems ordered by severity (critical first), failures before errors, then by name."""
    order = {"failed": 0, "error": 1}
    return sorted(
        (r for r in results if r.is_problem),
        key=lambda r: (-rank(r.severity), order[r.outcome], r.check),
    )
