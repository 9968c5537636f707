"""Checks on a Prometheus ``/metrics`` page: values, ratios, quantiles, counter progress."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plugins.schema.base import Bands, CheckSpec, StrictModel
from plugins.schema.registry import check_kind


class Scrape(StrictModel):
    """Where the page is: a service's metrics path, or a full URL."""

    service: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Scrape:
        if (self.service is None) == (self.url is None):
            raise ValueError("give exactly one of service, url")
        return self


class MetricCheck(CheckSpec):
    """Common fields: which page, which labels, and the bands the number must stay within."""

    scrape: Scrape
    labels: dict[str, str] = Field(
        default_factory=dict, description="exact match; a value written /re/ is a regex"
    )
    bands: Bands | None = Field(
        default=None, description="none: informational, the value is reported and never fails"
    )
    scale: float = Field(default=1.0, description="multiply before judging (seconds -> ms: 1000)")

    def subject(self) -> str:
        return self.component or self.scrape.service or self.kind

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.scrape.service)] if self.scrape.service else []


@check_kind("metric_threshold")
class MetricThresholdCheck(MetricCheck):
    """One metric (summed, max or min over matching samples) against bands; queue depths too."""

    probe: ClassVar[str] = "fixtures.metric_probes:probe_threshold"
    kind: Literal["metric_threshold"] = "metric_threshold"
    metric: str
    aggregate: Literal["sum", "max", "min", "single"] = "sum"


@check_kind("metric_ratio")
class MetricRatioCheck(MetricCheck):
    """numerator / denominator (errors / processed), as a percentage when ``percent``."""

    probe: ClassVar[str] = "fixtures.metric_probes:probe_ratio"
    kind: Literal["metric_ratio"] = "metric_ratio"
    numerator: str
    denominator: str
    denominator_labels: dict[str, str] | None = None
    percent: bool = True
    window: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="seconds between two scrapes: the ratio of the counters' increases over the "
        "window (the current error rate) instead of their lifetime totals",
    )

    def observation_budget(self, timeout: float) -> float:
        return (self.window or 0.0) + timeout * 2


@check_kind("metric_quantile")
class MetricQuantileCheck(MetricCheck):
    """A quantile from a summary or a histogram family (P95 <= 1000 ms)."""

    probe: ClassVar[str] = "fixtures.metric_probes:probe_quantile"
    kind: Literal["metric_quantile"] = "metric_quantile"
    family: str
    quantile: float = Field(gt=0, lt=1)


@check_kind("metric_progress")
class MetricProgressCheck(CheckSpec):
    """A counter moves between two scrapes ``interval`` seconds apart (processing is active)."""

    probe: ClassVar[str] = "fixtures.metric_probes:probe_progress"
    kind: Literal["metric_progress"] = "metric_progress"
    scrape: Scrape
    metric: str
    labels: dict[str, str] = Field(default_factory=dict)
    interval: float = Field(default=5.0, gt=0, le=3600)
    min_increase: float = Field(default=1.0, gt=0)

    def observation_budget(self, timeout: float) -> float:
        return self.interval + timeout * 2

    def subject(self) -> str:
        return self.component or self.scrape.service or self.kind

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.scrape.service)] if self.scrape.service else []
