"""Prometheus and Alertmanager checks: PromQL against bands, trends, targets, rules, alerts.

Prometheus and Alertmanager are HTTP services: their address, credentials and CA live in the
environment's ``services:`` section and checks name them (``service: prometheus``). Their
health endpoints (``/-/healthy``) are plain ``http_health`` entries.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel, duration_seconds
from plugins.schema.registry import check_kind

Aggregate = Literal["each", "max", "min", "sum"]


class ServiceCheck(CheckSpec):
    """A check that reads one HTTP API named in ``services:``."""

    service: str

    def subject(self) -> str:
        return self.component or self.service

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.service)]


class Judged(CheckSpec):
    """Bands to judge against, unless the check only collects and reports (informational)."""

    bands: Bands | None = None
    informational: bool = Field(
        default=False, description="collect and report only; never fails (runbook review steps)"
    )

    @model_validator(mode="after")
    def _bands_unless_informational(self) -> Judged:
        if self.bands is None and not self.informational:
            raise ValueError("give bands, or set informational: true")
        return self

    def limits(self) -> Bands | None:
        """The bands to judge against; None for an informational check (report only)."""
        return None if self.informational else self.bands


class JudgedServiceCheck(ServiceCheck, Judged):
    """A judged number read from an HTTP API."""


@check_kind("promql_query")
class PromqlQueryCheck(JudgedServiceCheck):
    """An instant PromQL query; the vector is judged per series (``each``) or aggregated.

    Example: 5xx ratio per job in percent, every job judged, breaching series named::

        query: sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
               / sum by (job) (rate(http_requests_total[5m])) * 100
        bands: {crit: 1, unit: "%"}
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_query"
    kind: Literal["promql_query"] = "promql_query"
    query: str = Field(min_length=1)
    aggregate: Aggregate = "each"
    scale: float = Field(default=1.0, description="multiply before judging (seconds -> ms: 1000)")
    if_empty: Literal["error", "zero"] = Field(
        default="error",
        description="an empty result is 'no data' (error) or a count of nothing (zero)",
    )


@check_kind("promql_trend")
class PromqlTrendCheck(JudgedServiceCheck):
    """A range query's trend per series: least-squares slope per hour or increase in percent.

    ``increase_percent`` is the fitted line's rise over the range relative to its start, so
    one spike does not read as a leak.
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_trend"
    kind: Literal["promql_trend"] = "promql_trend"
    query: str = Field(min_length=1)
    range: Duration = "24h"
    step: Duration = "5m"
    measure: Literal["slope_per_hour", "increase_percent"] = "increase_percent"
    min_samples: int = Field(default=3, ge=2)

    @model_validator(mode="after")
    def _step_fits(self) -> PromqlTrendCheck:
        span, step = duration_seconds(self.range), duration_seconds(self.step)
        if step <= 0 or span <= 0:
            raise ValueError("range and step must be positive")
        if span / step > 11_000:
            raise ValueError(
                f"range {self.range} at step {self.step} is over Prometheus' 11000 points"
            )
        return self


@check_kind("prometheus_targets")
class PrometheusTargetsCheck(ServiceCheck):
    """Every active scrape target is up; down ones are named with their scrape error.

    ``jobs`` limits the check to those jobs, and each of them must have a target at all.
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_targets"
    kind: Literal["prometheus_targets"] = "prometheus_targets"
    jobs: list[str] = Field(default_factory=list)


@check_kind("prometheus_rules")
class PrometheusRulesCheck(ServiceCheck):
    """Rule groups are loaded, named alert rules exist, no rule evaluates with an error.

    ``require_for``: alerting rules of the checked groups must hold their condition for a
    while before firing (``for:``), except the alert names in ``for_exempt``.
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_rules"
    kind: Literal["prometheus_rules"] = "prometheus_rules"
    groups: list[str] = Field(default_factory=list)
    alerts: list[str] = Field(default_factory=list)
    require_for: bool = False
    for_exempt: list[str] = Field(default_factory=list)


@check_kind("active_alerts")
class ActiveAlertsCheck(ServiceCheck):
    """Alerts matching ``labels`` that are firing (Prometheus) or active (Alertmanager).

    ``expect: none`` fails when any matches (no active critical alerts); ``expect: some``
    fails when none does (the always-firing Watchdog reached Alertmanager: the pipeline
    works end to end). Label values written ``/re/`` are regular expressions.
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_alerts"
    kind: Literal["active_alerts"] = "active_alerts"
    source: Literal["prometheus", "alertmanager"]
    labels: dict[str, str] = Field(default_factory=dict)
    expect: Literal["none", "some"] = "none"
    include_suppressed: bool = Field(
        default=False, description="Alertmanager: count silenced and inhibited alerts too"
    )


@check_kind("alertmanager_silences")
class AlertmanagerSilencesCheck(ServiceCheck):
    """Alertmanager's silences; with ``require``, an active one must cover those labels.

    Without ``require`` it only lists the active and pending silences (informational).
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_silences"
    kind: Literal["alertmanager_silences"] = "alertmanager_silences"
    require: dict[str, str] | None = None


class RouteExpectation(StrictModel):
    """Where an alert with these labels must be delivered."""

    labels: dict[str, str] = Field(min_length=1, description="e.g. {severity: critical}")
    receiver: str | None = Field(default=None, description="receiver name (glob)")
    integrations: list[
        Literal["pagerduty", "slack", "email", "webhook", "opsgenie", "msteams", "victorops"]
    ] = Field(default_factory=list, description="the receiver has at least one of these")


@check_kind("alertmanager_routing")
class AlertmanagerRoutingCheck(ServiceCheck):
    """Alertmanager's loaded route tree sends each labelled alert to the expected receiver.

    Reads ``GET /api/v2/status`` (the running configuration, secrets masked) and walks the
    route tree as Alertmanager does. ``separate: true`` also requires the expectations'
    receivers to differ (warnings kept out of the paging channel).
    """

    probe: ClassVar[str] = "fixtures.prometheus:probe_routing"
    kind: Literal["alertmanager_routing"] = "alertmanager_routing"
    routes: list[RouteExpectation] = Field(min_length=1)
    separate: bool = False
