"""Collect every check's result on the controller and end the run with an on-call summary.

The summary is short on purpose: worst first, one or two lines per problem (what, observed
vs expected, severity, who to call and how fast, the runbook), then the incident level.
"""

from __future__ import annotations

import pytest

from plugins import scale
from plugins.environment import get_environment
from plugins.results import CheckResult, RunSummary, result_from_report, worst_first
from plugins.rollup import roll_up


class ResultCollector:
    """Every check result of the run, by node id, as the controller receives them."""

    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        folded = result_from_report(report, self.results.get(report.nodeid))
        if folded is not None:
            self.results[report.nodeid] = folded


COLLECTOR = pytest.StashKey[ResultCollector]()
# Worst first, so the head of the list is what matters at 3 a.m.; the rest is in the reports.
MAX_LISTED = 15
SUMMARY = pytest.StashKey[RunSummary]()


def pytest_configure(config: pytest.Config) -> None:
    if config.option.help or hasattr(config, "workerinput"):
        return
    collector = ResultCollector()
    config.stash[COLLECTOR] = collector
    config.pluginmanager.register(collector, "vigil-results")


def run_summary(config: pytest.Config) -> RunSummary | None:
    """The run's summary (built once, at session end, on the controller)."""
    if SUMMARY in config.stash:
        return config.stash[SUMMARY]
    if COLLECTOR not in config.stash:
        return None
    env = get_environment(config)
    results = sorted(config.stash[COLLECTOR].results.values(), key=lambda r: r.nodeid)
    counts = {outcome: 0 for outcome in ("passed", "failed", "error", "skipped")}
    for result in results:
        counts[result.outcome] += 1
    summary = RunSummary(env.name, results, roll_up(results, env.policy), counts)
    config.stash[SUMMARY] = summary
    return summary


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    summary = run_summary(session.config)
    if summary is not None and summary.results:
        session.config.hook.pytest_vigil_run_summary(config=session.config, summary=summary)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    summary = run_summary(config)
    if summary is None or not summary.results:
        return
    vocabulary = get_environment(config).policy.vocabulary
    lines = format_summary(summary, vocabulary)
    terminalreporter.write_sep("=", f"Vigil on-call summary: {summary.environment}", bold=True)
    for line, markup in lines:
        terminalreporter.write_line(line, **markup)


def format_summary(
    summary: RunSummary, vocabulary: str = "internal"
) -> list[tuple[str, dict[str, bool]]]:
    """The summary's lines with terminal markup, worst first."""
    lines: list[tuple[str, dict[str, bool]]] = []
    problems = worst_first(summary.results)
    for result in problems[:MAX_LISTED]:
        label = scale.label(result.severity, vocabulary).upper()
        state = "FAIL" if result.outcome == "failed" else "ERROR"
        red = scale.rank(result.severity) >= scale.rank("high")
        refs = result.ref.split(",") if result.ref else []
        ref = f" [{refs[0]}{f' +{len(refs) - 1}' if len(refs) > 1 else ''}]" if refs else ""
        lines.append(
            (
                f"{state} {label:<8} {result.check}{ref}: {result.message}",
                {"red": red, "yellow": not red},
            )
        )
        within = _within(result.respond_within)
        escalation = f"escalate: L{result.escalation_level} {result.escalate_to}, {within}"
        if result.channel:
            escalation += f" via {result.channel}"
        detail = f"    {escalation}"
        if result.remediation:
            detail += f" | remediation: {result.remediation}"
        if result.runbook:
            detail += f" | runbook: {result.runbook}"
        lines.append((detail, {}))
    if len(problems) > MAX_LISTED:
        hidden = len(problems) - MAX_LISTED
        more = f"... {hidden} more problems, none more severe (all in reports/summary.json)"
        lines.append((more, {}))
    for result in summary.results:
        if result.outcome == "passed" and result.remediation:
            lines.append((f"FIXED {result.check}: {result.remediation}", {"green": True}))
    counts = summary.counts
    tally = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no checks"
    incident = summary.incident
    if incident is None:
        lines.append((f"All clear: {tally}.", {"green": True}))
    else:
        label = scale.label(incident.severity, vocabulary)
        rule = f" [{incident.rule}]" if incident.rule else ""
        lines.append(
            (
                f"INCIDENT {incident.name} ({label}): escalate to L{incident.escalation_level} "
                f"{incident.escalate_to}, {_within(incident.respond_within)}{rule}. {tally}.",
                {"red": True, "bold": True},
            )
        )
    return lines


def _within(duration: str) -> str:
    return "immediately" if duration == "immediate" else f"within {duration}"
