"""Exit status: ``--gate LEVEL`` fails the run only at or above LEVEL; ``--nagios`` mode.

Exit codes (also in the README):
  0  every check passed, or every problem is below ``--gate``
  1  a check failed or could not observe, at or above the gate
  2  interrupted; 3 internal error; 4 usage error (bad environment file, unknown option);
  5  no check selected.
With ``--nagios`` the output is one status line and the code is Nagios's: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN (nothing failed, but a check could not observe its target).
"""

from __future__ import annotations

import sys

import pytest

from plugins import scale
from plugins.results import CheckResult, RunSummary, worst_first
from plugins.summary import run_summary

NAGIOS_STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vigil")
    group.addoption(
        "--gate",
        dest="vigil_gate",
        default=None,
        metavar="LEVEL",
        help="fail the run only for problems at or above LEVEL (critical, high, P1, ...); "
        "the rest are still reported",
    )
    group.addoption(
        "--nagios",
        action="store_true",
        dest="vigil_nagios",
        help="print one Nagios status line with perfdata; "
        "exit 0/1/2/3 (OK/WARNING/CRITICAL/UNKNOWN)",
    )


@pytest.hookimpl(trylast=True)  # after the terminal reporter registers, to remove it
def pytest_configure(config: pytest.Config) -> None:
    gate = config.getoption("vigil_gate", None)
    if gate is not None:
        try:
            scale.to_internal(gate)
        except ValueError as problem:
            raise pytest.UsageError(f"--gate: {problem}") from None
    if config.getoption("vigil_nagios", False) and not hasattr(config, "workerinput"):
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            config.pluginmanager.unregister(terminal)


def gated_problems(results: list[CheckResult], gate: str | None) -> list[CheckResult]:
    """The problems that fail the run under ``gate`` (all of them without one)."""
    floor = scale.rank(scale.to_internal(gate)) if gate else 0
    return [r for r in results if r.is_problem and scale.rank(r.severity) >= floor]


def nagios_status(summary: RunSummary) -> tuple[int, str]:
    """Nagios's exit code and status line (with perfdata) for a run."""
    failed = [r for r in summary.results if r.outcome == "failed"]
    errors = [r for r in summary.results if r.outcome == "error"]
    if failed:
        code = max(scale.grade(r.severity).nagios_code for r in failed)
    else:
        code = 3 if errors else 0
    worst = worst_first(summary.results)[:3]
    detail = "; ".join(f"{r.check} {r.severity}: {r.message}" for r in worst)
    head = f"{len(failed)} failed, {len(errors)} unobservable, {summary.counts['passed']} passed"
    perf = " ".join(f"{k}={v};;;0" for k, v in summary.counts.items())
    text = f"VIGIL {NAGIOS_STATES[code]} - {head}" + (f": {detail}" if detail else "")
    return code, f"{text} | {perf}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    summary = run_summary(config)
    if summary is None:
        return
    if config.getoption("vigil_nagios", False):
        code, line = nagios_status(summary)
        sys.stdout.write(line + "\n")
        session.exitstatus = code
        return
    gate = config.getoption("vigil_gate", None)
    if (
        gate
        and exitstatus == pytest.ExitCode.TESTS_FAILED
        and not gated_problems(summary.results, gate)
        and _only_checks_failed(session, summary)
    ):
        session.exitstatus = pytest.ExitCode.OK


def _only_checks_failed(session: pytest.Session, summary: RunSummary) -> bool:
    # A failing plain test (not a check) is never gated away.
    return session.testsfailed <= sum(1 for r in summary.results if r.is_problem)
