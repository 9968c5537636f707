"""The simulated Loki's log streams and the evaluation of parsed LogQL over them.

Results use Loki's JSON shapes: ``streams`` (values ``["<ns>", "<line>"]``), ``matrix``
(values ``[<seconds>, "<value>"]``) and ``vector`` (value ``[<seconds>, "<value>"]``).
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from testbed.sim.loki.logql import (
    Expression,
    LogQLError,
    LogQuery,
    RangeAggregation,
    VectorAggregation,
)

logger = logging.getLogger(__name__)

MAX_POINTS_PER_SERIES = 11_000
NS = 10**9
LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Stream:
    """One stream: a label set and its entries sorted by (timestamp, arrival)."""

    labels: dict[str, str]
    entries: list[tuple[int, int, str]] = field(default_factory=list)

    def between(self, start_ns: int, end_ns: int, *, left_open: bool) -> list[tuple[int, str]]:
        """Entries in [start, end) (logs) or (start, end] (range vectors)."""
        if left_open:
            low = bisect.bisect_right(self.entries, (start_ns, 2**63))
            high = bisect.bisect_right(self.entries, (end_ns, 2**63))
        else:
            low = bisect.bisect_left(self.entries, (start_ns, -1))
            high = bisect.bisect_left(self.entries, (end_ns, -1))
        return [(ts, line) for ts, _, line in self.entries[low:high]]


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


class LogStore:
    """All pushed (and synthetic) streams, keyed by their label set."""

    def __init__(self) -> None:
        self._streams: dict[LabelKey, Stream] = {}
        self._arrivals = itertools.count()

    def push(self, labels: Mapping[str, str], entries: Iterable[tuple[int, str]]) -> int:
        key = label_key(labels)
        stream = self._streams.setdefault(key, Stream(dict(key)))
        added = 0
        for ts, line in entries:
            bisect.insort(stream.entries, (ts, next(self._arrivals), line))
            added += 1
        return added

    def streams(self, query: LogQuery) -> list[Stream]:
        return [stream for stream in self._streams.values() if query.selects(stream.labels)]

    def label_names(self) -> list[str]:
        return sorted({name for key in self._streams for name, _ in key})

    def label_values(self, name: str) -> list[str]:
        return sorted({value for key in self._streams for label, value in key if label == name})

    # -- log queries -------------------------------------------------------------------
    def select_logs(
        self, query: LogQuery, start_ns: int, end_ns: int, limit: int, backward: bool
    ) -> list[dict[str, Any]]:
        """Streams result: the ``limit`` newest (backward) or oldest (forward) lines."""
        selected = self.streams(query)
        found = [
            (ts, line, stream_index)
            for stream_index, stream in enumerate(selected)
            for ts, line in stream.between(start_ns, end_ns, left_open=False)
            if query.keeps(line)
        ]
        found.sort(key=lambda item: item[0], reverse=backward)
        grouped: dict[int, list[list[str]]] = {}
        for ts, line, stream_index in found[:limit]:
            grouped.setdefault(stream_index, []).append([str(ts), line])
        return [
            {"stream": dict(selected[index].labels), "values": values}
            for index, values in grouped.items()
        ]

    # -- metric queries ----------------------------------------------------------------
    def instant(self, expression: Expression, at_ns: int) -> dict[LabelKey, float]:
        if isinstance(expression, LogQuery):
            raise LogQLError(
                "log queries are not supported as an instant query type, please change your "
                "query to a range query type"
            )
        if isinstance(expression, RangeAggregation):
            return self._range_vector(expression, at_ns)
        return _aggregate(expression, self.instant(expression.inner, at_ns))

    def _range_vector(self, expression: RangeAggregation, at_ns: int) -> dict[LabelKey, float]:
        result: dict[LabelKey, float] = {}
        seconds = expression.range_ns / NS
        for stream in self.streams(expression.query):
            lines = [
                line
                for _, line in stream.between(at_ns - expression.range_ns, at_ns, left_open=True)
                if expression.query.keeps(line)
            ]
            if not lines:
                continue
            if expression.function in ("count_over_time", "rate"):
                value = float(len(lines))
            else:
                value = float(sum(len(line.encode()) for line in lines))
            if expression.function in ("rate", "bytes_rate"):
                value /= seconds
            result[label_key(stream.labels)] = value
        return result

    def vector(self, expression: Expression, at_ns: int) -> list[dict[str, Any]]:
        """Vector result of an instant metric query at ``at_ns``."""
        return [
            {"metric": dict(key), "value": [_seconds(at_ns), _number(value)]}
            for key, value in sorted(self.instant(expression, at_ns).items())
        ]

    def matrix(
        self, expression: Expression, start_ns: int, end_ns: int, step_ns: int
    ) -> list[dict[str, Any]]:
        """Matrix result: one instant evaluation per step from start to end inclusive."""
        if (end_ns - start_ns) // step_ns + 1 > MAX_POINTS_PER_SERIES:
            raise LogQLError(
                "exceeded maximum resolution of 11,000 points per timeseries. Try increasing "
                "the value of the step parameter"
            )
        series: dict[LabelKey, list[list[Any]]] = {}
        for at_ns in range(start_ns, end_ns + 1, step_ns):
            for key, value in self.instant(expression, at_ns).items():
                series.setdefault(key, []).append([_seconds(at_ns), _number(value)])
        return [{"metric": dict(key), "values": values} for key, values in sorted(series.items())]


def _aggregate(
    expression: VectorAggregation, vector: dict[LabelKey, float]
) -> dict[LabelKey, float]:
    groups: dict[LabelKey, list[float]] = {}
    for key, value in vector.items():
        labels = dict(key)
        if expression.grouping is None:
            kept: dict[str, str] = {}
        elif expression.without:
            kept = {name: v for name, v in labels.items() if name not in expression.grouping}
        else:
            kept = {name: labels[name] for name in expression.grouping if name in labels}
        groups.setdefault(label_key(kept), []).append(value)
    operation = _OPERATIONS[expression.operation]
    return {key: operation(values) for key, values in groups.items()}


_OPERATIONS: dict[str, Callable[[list[float]], float]] = {
    "sum": lambda values: float(sum(values)),
    "count": lambda values: float(len(values)),
    "min": lambda values: float(min(values)),
    "max": lambda values: float(max(values)),
    "avg": lambda values: sum(values) / len(values),
}


def _seconds(ns: int) -> int | float:
    """Unix seconds with millisecond precision, as Loki prints sample times."""
    ms = ns // 10**6
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _number(value: float) -> str:
    """Format as Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: ``3``, ``0.05``."""
    if value.is_integer():
        return str(int(value))
    return format(value, "f").rstrip("0") if "e" in repr(value) else repr(value)
