"""Start the embedded demo's testbed from an environment's ``testbed:`` section.

``start: [sim, ...]`` names the parts to start; ``faults:`` injects simulator faults (the
degraded demo); the result's ``variables`` are what the environment file refers to.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from testbed import parts

logger = logging.getLogger(__name__)

Stopper = Callable[[], None]


class TestbedError(Exception):
    """The testbed could not start; the message says which part and why."""


@dataclass
class RunningTestbed:
    """What was started: the variables the environment reads, and how to stop it all."""

    variables: dict[str, str] = field(default_factory=dict)
    stoppers: list[Stopper] = field(default_factory=list)

    def stop(self) -> None:
        for stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception as problem:
                logger.warning("testbed part did not stop cleanly: %s", problem)
        self.stoppers.clear()


def variable_name(prefix: str, name: str, suffix: str) -> str:
    """``SIM_DETECTOR_URL`` from ("SIM", "detector", "URL")."""
    return "_".join(part for part in (prefix, re.sub(r"\W", "_", name).upper(), suffix) if part)


def _part(name: str) -> Callable[[Mapping[str, Any], RunningTestbed], None]:
    """``testbed/parts/<name>.py``'s ``start``; each part is a module of its own."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise TestbedError(f"unknown part {name!r}")
    try:
        module = importlib.import_module(f"testbed.parts.{name}")
    except ModuleNotFoundError:
        known = ", ".join(sorted(p.name for p in pkgutil.iter_modules(parts.__path__)))
        raise TestbedError(f"unknown part {name!r} (known: {known})") from None
    starter: Callable[[Mapping[str, Any], RunningTestbed], None] = module.start
    return starter


def start_testbed(spec: Mapping[str, Any]) -> RunningTestbed:
    """Start each part ``spec["start"]`` names; stop what started if one part fails."""
    running = RunningTestbed()
    for part in spec.get("start", ["sim"]):
        starter = _part(str(part))
        try:
            starter(spec, running)
        except TestbedError:
            running.stop()
            raise
        except Exception as problem:
            running.stop()
            raise TestbedError(f"{part}: {problem}") from problem
    return running
