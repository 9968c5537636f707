"""Severity and escalation of each check, static and from the band a value breached.

At collection each check gets its static severity (environment entry, else the function's
``severity`` marker) and the escalation rung that severity maps to. When a check fails, the
failure's band may lower it (past warn only), and the report says what was observed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from fixtures.observe import ObservationError
from fixtures.verdict import CheckFailure
from plugins.collection import BoundCheck, bound_check
from plugins.environment import get_environment
from plugins.results import set_properties
from plugins.scale import one_below
from plugins.schema.policy import Policy


def escalation(policy: Policy, bound: BoundCheck, severity: str) -> dict[str, Any]:
    """Who to call for a failure of ``bound`` at ``severity``, and how fast."""
    rung = policy.rung(policy.level_for(severity, bound.spec.escalation))
    return {
        "escalation_level": rung.level,
        "escalate_to": rung.who,
        "respond_within": bound.spec.respond_within or rung.within,
        "channel": rung.channel,
    }


def failure_severity(bound: BoundCheck, failure: CheckFailure) -> str:
    """A crit breach keeps the check's severity; a warn breach drops it one step by default."""
    if failure.band == "warn":
        return failure.warn_severity or one_below(bound.severity)
    return bound.severity


def static_properties(env_name: str, policy: Policy, bound: BoundCheck) -> list[tuple[str, Any]]:
    spec = bound.spec
    values: dict[str, Any] = {
        "check": bound.name,
        "kind": spec.kind,
        "component": spec.subject(),
        "ref": ",".join(spec.ref),
        "tags": ",".join(bound.tags),
        "severity": bound.severity,
        **escalation(policy, bound, bound.severity),
        "runbook": bound.runbook or "",
        "environment": env_name,
    }
    return list(values.items())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    env = get_environment(config)
    for item in items:
        bound = bound_check(item)
        if bound is not None:
            item.user_properties.extend(static_properties(env.name, env.policy, bound))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    bound = bound_check(item)
    if bound is None or call.excinfo is None:
        return report
    problem = call.excinfo.value
    if isinstance(problem, CheckFailure):
        severity = failure_severity(bound, problem)
        policy = get_environment(item.config).policy
        details = {
            "severity": severity,
            **escalation(policy, bound, severity),
            "observed": problem.observed,
            "expected": problem.expected,
            "band": problem.band,
            "message": problem.message,
        }
        _record(item, report, details)
        _shorten(item, report, problem.message)
    elif isinstance(problem, ObservationError):
        message = f"cannot observe: {problem.reason}"
        _record(item, report, {"observed": "unobservable", "message": message})
        _shorten(item, report, message)
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else type(problem).__name__
        set_properties(report, message=text.splitlines()[0] if text else type(problem).__name__)
    return report


def _record(item: pytest.Item, report: pytest.TestReport, details: dict[str, Any]) -> None:
    set_properties(report, **details)
    # JUnit XML writes the properties of the teardown report, which copies the item's.
    item.user_properties[:] = [(n, v) for n, v in item.user_properties if n not in details]
    item.user_properties.extend(details.items())


def _shorten(item: pytest.Item, report: pytest.TestReport, message: str) -> None:
    # A criterion's traceback helps nobody at 3 a.m.; --tb=long (or -vv) keeps it for authors.
    if item.config.option.tbstyle in ("long", "native") or item.config.option.verbose > 1:
        return
    report.longrepr = f"{item.nodeid}: {message}"
