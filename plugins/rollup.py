"""Roll the run's failures up into one incident level, by the environment's rules.

Seed 000's rules, for example: one service degraded is Level 1, a failed security check is a
Level 2 security incident, several services down is Level 3 critical infrastructure.
"""

from __future__ import annotations

from collections.abc import Sequence

from plugins.results import CheckResult, Incident
from plugins.scale import rank, worst
from plugins.schema.policy import Policy, RollupCondition


def matches(result: CheckResult, when: RollupCondition) -> bool:
    """Whether one problem counts towards a rule."""
    if result.outcome == "error" and not when.include_errors:
        return False
    if when.tags and not set(when.tags) & set(result.tags.split(",")):
        return False
    if when.kinds and result.kind not in when.kinds:
        return False
    return not (when.min_severity and rank(result.severity) < rank(when.min_severity))


def roll_up(results: Sequence[CheckResult], policy: Policy) -> Incident | None:
    """The incident the problems amount to (first matching rule), or None when all is well."""
    problems = [r for r in results if r.is_problem]
    if not problems:
        return None
    for rule in policy.rollup:
        counted = [r for r in problems if matches(r, rule.when)]
        components = {r.component or r.check for r in counted}
        if counted and len(components) >= rule.when.min_components:
            level = policy.level_for(rule.severity, rule.escalation)
            return _incident(policy, rule.incident, rule.severity, level, rule.ref, counted)
    severity = worst([r.severity for r in problems]) or "medium"
    level = max(r.escalation_level for r in problems) or policy.level_for(severity)
    return _incident(policy, f"{severity} failure", severity, level, "", problems)


def _incident(
    policy: Policy, name: str, severity: str, level: int, rule: str, counted: Sequence[CheckResult]
) -> Incident:
    rung = policy.rung(level)
    return Incident(
        name=name,
        severity=severity,
        escalation_level=rung.level,
        escalate_to=rung.who,
        respond_within=rung.within,
        channel=rung.channel,
        rule=rule,
        checks=sorted(r.check for r in counted),
    )
