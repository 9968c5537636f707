"""Simulated Prometheus metrics whose counters advance with time, rendered in text format.

Counters are driven by :class:`Accumulator` objects (a value growing at a rate per second),
so a scrape taken a moment later shows more work done, exactly what a real busy service shows.
Faults change the picture: ``stalled`` sets every rate to zero, a ``metric`` fault with
``rate`` changes one counter's rate, and a ``metric`` fault with ``value`` pins one sample.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Labels = Mapping[str, str]
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Accumulator:
    """A monotonically growing value: ``start`` plus ``rate`` per second since an anchor."""

    def __init__(self, start: float, rate: float, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.base_rate = rate
        self.rate = rate
        self._anchor_value = start
        self._anchor_time = clock()

    def value(self) -> float:
        return self._anchor_value + self.rate * (self._clock() - self._anchor_time)

    def rebase(self, rate: float) -> None:
        """Keep the value reached so far and grow at ``rate`` from now on."""
        now = self._clock()
        self._anchor_value += self.rate * (now - self._anchor_time)
        self._anchor_time = now
        self.rate = rate

    def add(self, amount: float) -> None:
        self._anchor_value += amount


@dataclass(frozen=True)
class Sample:
    """One exposition line: a sample name, its labels and its value."""

    name: str
    labels: Labels
    value: float


@dataclass(frozen=True)
class Pin:
    """A fixed value for every sample called ``name`` whose labels include ``labels``."""

    name: str
    labels: Labels
    value: float

    def matches(self, sample: Sample) -> bool:
        return sample.name == self.name and _labels_include(sample.labels, self.labels)


@dataclass(frozen=True)
class RateOverride:
    """A new per-second rate for the counters of family (or sample) ``name``."""

    name: str
    labels: Labels
    rate: float


def _labels_include(labels: Labels, wanted: Labels) -> bool:
    return all(labels.get(key) == value for key, value in wanted.items())


@dataclass
class _Series:
    labels: dict[str, str]
    accumulator: Accumulator | None = None
    value: float | Callable[[], float] = 0.0
    quantiles: dict[float, float] = field(default_factory=dict)
    buckets: tuple[tuple[float, float], ...] = ()
    mean: float = 0.0


@dataclass
class _Family:
    name: str
    kind: str  # counter, gauge, summary, histogram
    help: str
    series: list[_Series] = field(default_factory=list)

    def samples(self) -> Iterable[Sample]:
        for series in self.series:
            yield from _series_samples(self, series)

    def sample_names(self) -> set[str]:
        """The names its exposition lines carry."""
        if self.kind == "summary":
            return {self.name, f"{self.name}_count", f"{self.name}_sum"}
        if self.kind == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum"}
        return {self.name}

    def driver_names(self) -> set[str]:
        """The names a rate override may use for its accumulators (none for a gauge)."""
        return set() if self.kind == "gauge" else self.sample_names() | {self.name}


def _series_samples(family: _Family, series: _Series) -> Iterable[Sample]:
    labels = series.labels
    if family.kind == "gauge":
        value = series.value() if callable(series.value) else series.value
        yield Sample(family.name, labels, value)
        return
    assert series.accumulator is not None
    count = math.floor(series.accumulator.value())
    if family.kind == "counter":
        yield Sample(family.name, labels, float(count))
        return
    if family.kind == "summary":
        for quantile, value in series.quantiles.items():
            yield Sample(family.name, {**labels, "quantile": format_value(quantile)}, value)
    else:
        for upper, fraction in series.buckets:
            yield Sample(
                f"{family.name}_bucket",
                {**labels, "le": format_value(upper)},
                float(math.floor(count * fraction)),
            )
        yield Sample(f"{family.name}_bucket", {**labels, "le": "+Inf"}, float(count))
    yield Sample(f"{family.name}_sum", labels, round(count * series.mean, 6))
    yield Sample(f"{family.name}_count", labels, float(count))


class MetricRegistry:
    """The metric families of one simulated service.

    >>> registry = MetricRegistry()
    >>> processed = registry.counter("logs_processed_total", "Logs processed.", 100, 10.0)
    >>> "logs_processed_total" in registry.render()
    True
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._families: dict[str, _Family] = {}

    def _family(self, name: str, kind: str, help_text: str) -> _Family:
        family = self._families.setdefault(name, _Family(name, kind, help_text))
        if family.kind != kind:
            raise ValueError(f"metric {name} registered as {family.kind} and {kind}")
        return family

    def gauge(
        self,
        name: str,
        help_text: str,
        value: float | Callable[[], float],
        labels: Labels | None = None,
    ) -> None:
        self._family(name, "gauge", help_text).series.append(
            _Series(dict(labels or {}), value=value)
        )

    def counter(
        self, name: str, help_text: str, start: float, rate: float, labels: Labels | None = None
    ) -> Accumulator:
        accumulator = Accumulator(start, rate, self._clock)
        self._family(name, "counter", help_text).series.append(
            _Series(dict(labels or {}), accumulator=accumulator)
        )
        return accumulator

    def summary(
        self,
        name: str,
        help_text: str,
        quantiles: Mapping[float, float],
        start: float,
        rate: float,
        mean: float,
        labels: Labels | None = None,
    ) -> Accumulator:
        accumulator = Accumulator(start, rate, self._clock)
        series = _Series(
            dict(labels or {}), accumulator=accumulator, quantiles=dict(quantiles), mean=mean
        )
        self._family(name, "summary", help_text).series.append(series)
        return accumulator

    def histogram(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[tuple[float, float]],
        start: float,
        rate: float,
        mean: float,
        labels: Labels | None = None,
    ) -> Accumulator:
        """``buckets`` are (upper bound, cumulative fraction of observations) pairs."""
        accumulator = Accumulator(start, rate, self._clock)
        series = _Series(
            dict(labels or {}), accumulator=accumulator, buckets=tuple(buckets), mean=mean
        )
        self._family(name, "histogram", help_text).series.append(series)
        return accumulator

    def sample_names(self) -> set[str]:
        return {name for family in self._families.values() for name in family.sample_names()}

    def samples(self, pins: Sequence[Pin] = ()) -> list[Sample]:
        return [sample for family in self._families.values() for sample in _pinned(family, pins)]

    def render(self, pins: Sequence[Pin] = ()) -> str:
        """The Prometheus text exposition (version 0.0.4) of every family."""
        lines: list[str] = []
        for family in self._families.values():
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(_exposition_line(sample) for sample in _pinned(family, pins))
        return "\n".join(lines) + "\n"

    def apply_rates(self, stalled: bool, overrides: Sequence[RateOverride]) -> None:
        """Set every counter's current rate: zero when stalled, else overridden or base."""
        for family in self._families.values():
            for series in family.series:
                if series.accumulator is None:
                    continue
                rate = series.accumulator.base_rate
                for override in overrides:
                    if override.name in family.driver_names() and _labels_include(
                        series.labels, override.labels
                    ):
                        rate = override.rate
                series.accumulator.rebase(0.0 if stalled else rate)

    def rate_names(self) -> set[str]:
        """Names whose growth rate a ``metric`` fault may change (counters and their kin)."""
        return {name for family in self._families.values() for name in family.driver_names()}


def _pinned(family: _Family, pins: Sequence[Pin]) -> Iterable[Sample]:
    for sample in family.samples():
        pin = next((pin for pin in reversed(pins) if pin.matches(sample)), None)
        yield sample if pin is None else Sample(sample.name, sample.labels, pin.value)


def _exposition_line(sample: Sample) -> str:
    if not sample.labels:
        return f"{sample.name} {format_value(sample.value)}"
    pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in sample.labels.items())
    return f"{sample.name}{{{pairs}}} {format_value(sample.value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    """Format a float as Go's Prometheus client does (``1.25e+06``, ``+Inf``, ``0.95``)."""
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text
