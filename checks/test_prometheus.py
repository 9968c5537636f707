"""Prometheus and Alertmanager: PromQL against bands, trends, scrape targets, rules, alerts.

Catalogue kind promql, and the error_rate / latency_quantile items Prometheus serves. The
probes read the APIs (an unreachable or failing API is an error, not a pass); these functions
judge. Informational entries (runbook review steps) never fail: they record what they saw.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping

import pytest

from fixtures.prometheus import (
    AlertList,
    QueryResult,
    Routing,
    RuleSet,
    SilenceList,
    TargetList,
    Trends,
    active,
    aggregate,
    judge_series,
    label_matches,
)
from fixtures.verdict import fail
from plugins.schema.prometheus import (
    ActiveAlertsCheck,
    AlertmanagerRoutingCheck,
    AlertmanagerSilencesCheck,
    PrometheusRulesCheck,
    PrometheusTargetsCheck,
    PromqlQueryCheck,
    PromqlTrendCheck,
)

Record = Callable[[str, object], None]
MAX_LISTED = 8


def _report(record_property: Record, observed: str, message: str) -> None:
    record_property("observed", observed)
    record_property("message", message)


def _listed(items: list[str]) -> str:
    more = f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return "; ".join(items[:MAX_LISTED]) + more


def _selector(labels: Mapping[str, str]) -> str:
    shown = ",".join(
        f'{k}=~"{v[1:-1]}"' if len(v) > 1 and v[0] == v[-1] == "/" else f'{k}="{v}"'
        for k, v in labels.items()
    )
    return f"{{{shown}}}"


@pytest.mark.kind("promql_query")
@pytest.mark.severity("high")
def test_promql_query(
    check: PromqlQueryCheck, observation: QueryResult, record_property: Record
) -> None:
    values = [
        (one.name if one.labels else "", one.value * check.scale)
        for one in aggregate(observation.series, check.aggregate)
    ]
    what = check.description or observation.query
    bands = check.limits()
    if bands is None:
        shown = _listed([f"{name or 'value'} = {value:.4g}" for name, value in values])
        _report(record_property, shown, f"{what}: {shown}")
        return
    judge_series(what, values, bands)


@pytest.mark.kind("promql_trend")
@pytest.mark.severity("medium")
def test_promql_trend(
    check: PromqlTrendCheck, observation: Trends, record_property: Record
) -> None:
    what = f"{check.description or observation.query} over {observation.range}"
    measure_name = "slope per hour" if check.measure == "slope_per_hour" else "increase"
    values = []
    for trend in observation.series:
        detail = (
            f"{trend.name} ({trend.first:.4g} -> {trend.last:.4g}, "
            f"{trend.slope_per_hour:+.3g}/h, {trend.samples} samples) {measure_name}"
        )
        measure = (
            trend.slope_per_hour
            if check.measure == "slope_per_hour"
            else float(trend.increase_percent or 0.0)
        )
        values.append((detail, measure))
    bands = check.limits()
    if bands is None:
        shown = _listed(
            [
                f"{trend.name}: min {trend.low:.4g}, max {trend.high:.4g}, last {trend.last:.4g}, "
                f"{trend.slope_per_hour:+.3g}/h"
                for trend in observation.series
            ]
        )
        _report(record_property, shown, f"{what}: {shown}")
        return
    judge_series(what, values, bands)


@pytest.mark.kind("prometheus_targets")
@pytest.mark.severity("high")
def test_prometheus_targets(check: PrometheusTargetsCheck, observation: TargetList) -> None:
    targets = [t for t in observation.targets if not check.jobs or t.job in check.jobs]
    missing = [job for job in check.jobs if not any(t.job == job for t in targets)]
    if missing:
        fail(
            f"{observation.url}: no scrape target for job {', '.join(missing)} "
            "(dropped from the scrape configuration or service discovery?)",
            observed=f"jobs without targets: {', '.join(missing)}",
            expected="every listed job scraped",
        )
    if not targets:
        fail(
            f"{observation.url}: no active scrape targets",
            observed="0 targets",
            expected=">= 1 target up",
        )
    down = [t for t in targets if t.health != "up"]
    if down:
        listed = _listed(
            [
                f"job={t.job} instance={t.instance} {t.health}: {t.last_error or 'not scraped yet'}"
                for t in down
            ]
        )
        fail(
            f"{len(down)} of {len(targets)} scrape targets down: {listed}",
            observed=f"{len(down)} down",
            expected="every target up",
        )


@pytest.mark.kind("prometheus_rules")
@pytest.mark.severity("medium")
def test_prometheus_rules(check: PrometheusRulesCheck, observation: RuleSet) -> None:
    missing_groups = [group for group in check.groups if group not in observation.groups]
    if missing_groups:
        fail(
            f"{observation.url}: rule group {', '.join(missing_groups)} not loaded "
            f"(loaded: {', '.join(observation.groups) or 'none'})",
            observed=f"missing groups: {', '.join(missing_groups)}",
            expected=f"groups {', '.join(check.groups)} loaded",
        )
    checked = [r for r in observation.rules if not check.groups or r.group in check.groups]
    alert_names = {rule.name for rule in checked if rule.type == "alerting"}
    missing_alerts = [name for name in check.alerts if name not in alert_names]
    if missing_alerts:
        fail(
            f"{observation.url}: alert rule {', '.join(missing_alerts)} not loaded",
            observed=f"missing alerts: {', '.join(missing_alerts)}",
            expected=f"alerts {', '.join(check.alerts)} loaded",
        )
    broken = [rule for rule in checked if rule.health == "err"]
    if broken:
        listed = _listed([f"{r.group}/{r.name}: {r.last_error}" for r in broken])
        fail(
            f"{len(broken)} rule(s) failing to evaluate: {listed}",
            observed=f"{len(broken)} rules with health err",
            expected="every rule healthy",
        )
    if check.require_for:
        instant = [
            rule
            for rule in checked
            if rule.type == "alerting"
            and rule.hold_seconds <= 0
            and rule.name not in check.for_exempt
        ]
        if instant:
            listed = _listed([f"{r.group}/{r.name}" for r in instant])
            fail(
                f"{len(instant)} alert rule(s) fire on a single evaluation (no 'for:'): {listed}",
                observed=f"{len(instant)} rules without for",
                expected="every alert rule holds its condition (for: > 0)",
            )


@pytest.mark.kind("active_alerts")
@pytest.mark.severity("high")
def test_active_alerts(check: ActiveAlertsCheck, observation: AlertList) -> None:
    found = [
        alert
        for alert in active(observation.alerts, observation.source, check.include_suppressed)
        if label_matches(alert.labels, check.labels)
    ]
    selector = _selector(check.labels)
    state = "firing" if observation.source == "prometheus" else "active"
    if check.expect == "none" and found:
        listed = _listed(
            [
                f"{alert.name}{_selector(_shown_labels(alert.labels))} since {alert.since}"
                + (f": {alert.summary}" if alert.summary else "")
                for alert in found
            ]
        )
        fail(
            f"{observation.source}: {len(found)} {selector} alert(s) {state}: {listed}",
            observed=f"{len(found)} {state}",
            expected=f"no {state} {selector} alert",
        )
    if check.expect == "some" and not found:
        fail(
            f"{observation.source}: no {state} alert matching {selector} "
            f"({len(observation.alerts)} alerts in all); the alert pipeline may be broken",
            observed=f"0 {state}",
            expected=f">= 1 {state} {selector} alert",
        )


def _shown_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in ("alertname", "__name__")}


@pytest.mark.kind("alertmanager_silences")
@pytest.mark.severity("low")
def test_alertmanager_silences(
    check: AlertmanagerSilencesCheck, observation: SilenceList, record_property: Record
) -> None:
    current = [s for s in observation.silences if s.state in ("active", "pending")]
    listed = _listed([f"{s.state} {s.describe()}" for s in current]) or "none"
    if check.require is not None:
        covering = [s for s in current if s.state == "active" and s.covers(check.require)]
        if not covering:
            fail(
                f"{observation.url}: no active silence covers {_selector(check.require)} "
                f"(silences now: {listed})",
                observed=f"{len(current)} active/pending silences, none covering",
                expected=f"an active silence for {_selector(check.require)}",
            )
    _report(record_property, f"{len(current)} silences", f"silences: {listed}")


@pytest.mark.kind("alertmanager_routing")
@pytest.mark.severity("high")
def test_alertmanager_routing(check: AlertmanagerRoutingCheck, observation: Routing) -> None:
    problems: list[str] = []
    for expectation, delivery in zip(check.routes, observation.deliveries, strict=True):
        shown = ",".join(f"{k}={v}" for k, v in sorted(delivery.labels.items()))
        reached = ", ".join(
            f"{name} ({'/'.join(delivery.integrations[name]) or 'no integration'})"
            for name in delivery.receivers
        )
        fitting = [
            name
            for name in delivery.receivers
            if (expectation.receiver is None or fnmatch.fnmatchcase(name, expectation.receiver))
            and (
                not expectation.integrations
                or set(expectation.integrations) & set(delivery.integrations[name])
            )
        ]
        if not fitting:
            wanted = expectation.receiver or "/".join(expectation.integrations)
            problems.append(f"{{{shown}}} reaches {reached}, expected {wanted}")
    if check.separate:
        seen: dict[str, str] = {}
        for delivery in observation.deliveries:
            shown = ",".join(f"{k}={v}" for k, v in sorted(delivery.labels.items()))
            for name in delivery.receivers:
                if name in seen and seen[name] != shown:
                    problems.append(f"{{{shown}}} and {{{seen[name]}}} share receiver {name}")
                seen.setdefault(name, shown)
    if problems:
        fail(
            f"alertmanager routing ({observation.url}): {'; '.join(problems)}",
            observed=f"{len(problems)} route(s) off",
            expected="each alert class to its own receiver",
        )
