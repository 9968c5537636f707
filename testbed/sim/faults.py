"""Fault kinds a simulated service can be put into, and their validation.

A fault is declared as ``{"kind": ..., "params": {...}}`` (HTTP control interface, YAML) or
as ``stack.set_fault(service, kind, **params)`` (Python). Validation happens before anything
changes, so a typo is a ``FaultError`` (HTTP 400), never a silently healthy service.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

DOWN = "down"
SLOW = "slow"
UNHEALTHY = "unhealthy"
METRIC = "metric"
AUTH_OPEN = "auth_open"
STALLED = "stalled"
ERROR = "error"
FAULT_KINDS = (DOWN, SLOW, UNHEALTHY, METRIC, AUTH_OPEN, STALLED, ERROR)

DEFAULT_SLOW_SECONDS = 3.0
MAX_SLOW_SECONDS = 600.0


class FaultError(ValueError):
    """A fault that cannot apply: unknown kind, unknown service, bad parameter."""


@dataclass(frozen=True)
class Fault:
    """One injected fault: its kind and validated parameters."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    def replaces(self, other: Fault) -> bool:
        """Whether setting ``self`` supersedes ``other`` (same kind, same metric target)."""
        if self.kind != other.kind:
            return False
        if self.kind != METRIC:
            return True
        keys = ("name", "labels", "gpu")
        return all(self.params.get(key) == other.params.get(key) for key in keys)


@dataclass(frozen=True)
class FaultSupport:
    """What one service accepts: fault kinds, metric names, unhealthy dependencies."""

    kinds: frozenset[str]
    metric_names: frozenset[str] = frozenset()
    value_names: frozenset[str] = frozenset()
    counter_names: frozenset[str] = frozenset()
    dependencies: tuple[str, ...] = ()
    gpu_count: int = 0


def fault_from_spec(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split ``{"kind": k, "params": {...}}`` (or a flat ``{"kind": k, **params}``)."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), str):
        raise FaultError(f"a fault needs a string 'kind', got {spec!r}")
    if "params" in spec:
        params = spec["params"] or {}
        if not isinstance(params, Mapping):
            raise FaultError("fault 'params' must be an object")
        return spec["kind"], dict(params)
    return spec["kind"], {key: value for key, value in spec.items() if key != "kind"}


def validate_fault(
    service: str, kind: str, params: Mapping[str, Any], support: FaultSupport
) -> Fault:
    """Check ``kind`` and ``params`` against what ``service`` supports; return the fault."""
    if kind not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    if kind not in support.kinds:
        raise FaultError(f"service {service!r} does not support fault {kind!r}")
    checker = _CHECKERS[kind]
    clean = checker(service, dict(params), support)
    return Fault(kind, clean)


def _reject_unknown(kind: str, params: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise FaultError(f"fault {kind!r} takes no parameter {', '.join(unknown)}")


def _number(kind: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultError(f"fault {kind!r}: {name} must be a finite number, got {value!r}")
    return float(value)


def _path(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    path = params.get("path")
    if path is None:
        return {}
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultError(f"fault {kind!r}: path must start with '/', got {path!r}")
    return {"path": path}


def _check_plain(service: str, params: dict[str, Any], support: FaultSupport) -> dict[str, Any]:
    _reject_unknown("down/auth_open/stalled", params, ())
    return {}


def _check_slow(service: str, params: dict[str, Any], support: FaultSupport) -> dict[str, Any]:
    _reject_unknown(SLOW, params, ("seconds", "path"))
    seconds = _number(SLOW, "seconds", params.get("seconds", DEFAULT_SLOW_SECONDS))
    if not 0 < seconds <= MAX_SLOW_SECONDS:
        raise FaultError(f"fault 'slow': seconds must be in (0, {MAX_SLOW_SECONDS:g}]")
    return {"seconds": seconds, **_path(SLOW, params)}


def _check_error(service: str, params: dict[str, Any], support: FaultSupport) -> dict[str, Any]:
    _reject_unknown(ERROR, params, ("status", "path"))
    status = params.get("status", 500)
    if not isinstance(status, int) or isinstance(status, bool) or not 500 <= status <= 599:
        raise FaultError(f"fault 'error': status must be an integer 500-599, got {status!r}")
    return {"status": status, **_path(ERROR, params)}


def _check_unhealthy(service: str, params: dict[str, Any], support: FaultSupport) -> dict[str, Any]:
    _reject_unknown(UNHEALTHY, params, ("dependency", "gpu"))
    clean: dict[str, Any] = {}
    if "dependency" in params:
        if params["dependency"] not in support.dependencies:
            known = ", ".join(support.dependencies) or "none"
            raise FaultError(
                f"fault 'unhealthy' on {service!r}: unknown dependency "
                f"{params['dependency']!r} (known: {known})"
            )
        clean["dependency"] = params["dependency"]
    elif support.dependencies:
        clean["dependency"] = support.dependencies[0]
    if "gpu" in params:
        clean["gpu"] = _gpu(service, params["gpu"], support)
    return clean


def _gpu(service: str, value: Any, support: FaultSupport) -> int:
    if support.gpu_count == 0:
        raise FaultError(f"service {service!r} has no GPUs")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < support.gpu_count:
        raise FaultError(f"gpu must be an index 0-{support.gpu_count - 1}, got {value!r}")
    return value


def _check_metric(service: str, params: dict[str, Any], support: FaultSupport) -> dict[str, Any]:
    _reject_unknown(METRIC, params, ("name", "value", "rate", "labels", "gpu"))
    name = params.get("name")
    if name not in support.metric_names:
        raise FaultError(
            f"fault 'metric' on {service!r}: unknown metric or field {name!r} "
            f"(known: {', '.join(sorted(support.metric_names))})"
        )
    if ("value" in params) == ("rate" in params):
        raise FaultError("fault 'metric' needs exactly one of 'value' or 'rate'")
    clean: dict[str, Any] = {"name": name}
    if "value" in params:
        if name not in support.value_names:
            raise FaultError(
                f"fault 'metric': {name!r} has no sample of its own; pin its _bucket, _sum "
                "or _count sample, or give a 'rate'"
            )
        clean["value"] = _number(METRIC, "value", params["value"])
    else:
        if name not in support.counter_names:
            raise FaultError(f"fault 'metric': {name!r} is not a counter; use 'value'")
        rate = _number(METRIC, "rate", params["rate"])
        if rate < 0:
            raise FaultError("fault 'metric': a counter's rate cannot be negative")
        clean["rate"] = rate
    labels = params.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        raise FaultError("fault 'metric': labels must map strings to strings")
    clean["labels"] = dict(labels)
    if "gpu" in params:
        clean["gpu"] = _gpu(service, params["gpu"], support)
    return clean


_CHECKERS = {
    DOWN: _check_plain,
    AUTH_OPEN: _check_plain,
    STALLED: _check_plain,
    SLOW: _check_slow,
    ERROR: _check_error,
    UNHEALTHY: _check_unhealthy,
    METRIC: _check_metric,
}


class FaultSet:
    """The faults currently active on one service (at most one per kind and metric target)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults = [old for old in self._faults if not fault.replaces(old)] + [fault]

    def clear(self) -> None:
        self._faults = []

    def remove(self, predicate: Callable[[Fault], bool]) -> list[Fault]:
        """Drop the faults for which ``predicate(fault)`` is true; return them."""
        removed = [fault for fault in self._faults if predicate(fault)]
        self._faults = [fault for fault in self._faults if not predicate(fault)]
        return removed

    def get(self, kind: str) -> Fault | None:
        return next((fault for fault in self._faults if fault.kind == kind), None)

    def all(self, kind: str | None = None) -> list[Fault]:
        return [fault for fault in self._faults if kind is None or fault.kind == kind]

    def __contains__(self, kind: object) -> bool:
        return any(fault.kind == kind for fault in self._faults)

    def __bool__(self) -> bool:
        return bool(self._faults)
