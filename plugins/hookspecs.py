"""Vigil's own hooks, added from ``pytest_addhooks`` so other plugins can implement them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from plugins.envfile import RawEnvironment
    from plugins.results import RunSummary


@pytest.hookspec(firstresult=True)
def pytest_vigil_testbed_variables(
    config: pytest.Config, raw: RawEnvironment
) -> Mapping[str, str] | None:
    """Start what the environment's ``testbed:`` asks for; return variables its file uses."""


@pytest.hookspec(firstresult=True)
def pytest_vigil_remediate(item: pytest.Item, failure: Any) -> str | None:
    """Try the remediation registered for a failed check.

    Return ``"remediated"``-style outcome words when an action ran (the check is then run
    again), or None when no action applies.
    """


def pytest_vigil_run_summary(config: pytest.Config, summary: RunSummary) -> None:
    """Called once on the controller with the run's results and rolled-up incident
    (notification and history plugins implement this)."""
