"""Checks on Prometheus /metrics pages: thresholds, ratios, quantiles, counter progress.

Catalogue kinds metric_threshold, queue_depth, error_rate, latency_quantile, process_activity.
The probes read the numbers (a missing metric is an error: the criterion cannot be observed);
these functions only judge them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.metric_probes import Reading
from fixtures.verdict import fail, judge
from plugins.schema.metrics import (
    MetricProgressCheck,
    MetricQuantileCheck,
    MetricRatioCheck,
    MetricThresholdCheck,
)


def judge_or_report(
    check: MetricThresholdCheck | MetricRatioCheck | MetricQuantileCheck,
    what: str,
    value: float,
    record_property: Callable[[str, object], None],
) -> None:
    """Judge against the bands; without bands the check is informational: report, never fail."""
    __tracebackhide__ = True
    record_property("observed", f"{value:.6g}")
    if check.bands is None:
        record_property("message", f"informational: {what} = {value:.6g}")
        return
    judge(what, value, check.bands)


@pytest.mark.kind("metric_threshold")
@pytest.mark.severity("medium")
def test_metric_threshold(
    check: MetricThresholdCheck,
    observation: Reading,
    record_property: Callable[[str, object], None],
) -> None:
    judge_or_report(check, observation.what, observation.value * check.scale, record_property)


@pytest.mark.kind("metric_ratio")
@pytest.mark.severity("high")
def test_metric_ratio(
    check: MetricRatioCheck, observation: Reading, record_property: Callable[[str, object], None]
) -> None:
    percent = 100.0 if check.percent else 1.0
    value = observation.value * percent * check.scale
    judge_or_report(check, observation.what, value, record_property)


@pytest.mark.kind("metric_quantile")
@pytest.mark.severity("medium")
def test_metric_quantile(
    check: MetricQuantileCheck, observation: Reading, record_property: Callable[[str, object], None]
) -> None:
    judge_or_report(check, observation.what, observation.value * check.scale, record_property)


@pytest.mark.kind("metric_progress")
@pytest.mark.severity("high")
def test_metric_progress(check: MetricProgressCheck, observation: Reading) -> None:
    if observation.value < check.min_increase:
        fail(
            f"{observation.what} grew by {observation.value:g} in {check.interval:g}s, "
            f"expected >= {check.min_increase:g} (processing stalled)",
            observed=f"+{observation.value:g} in {check.interval:g}s",
            expected=f">= +{check.min_increase:g}",
        )
