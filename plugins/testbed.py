"""Start the project's own testbed when the environment asks for one (the demo does).

The testbed's addresses reach the environment file as variables (``${SIM_DETECTOR_URL}``),
so the same checks read a simulator here and the real service in production.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from plugins.envfile import RawEnvironment

logger = logging.getLogger(__name__)


def pytest_vigil_testbed_variables(
    config: pytest.Config, raw: RawEnvironment
) -> Mapping[str, str] | None:
    from testbed.demo import TestbedError, start_testbed

    spec = raw.testbed or {}
    try:
        running = start_testbed(spec)
    except TestbedError as problem:
        raise pytest.UsageError(f"{raw.path}: testbed: {problem}") from None
    config.add_cleanup(running.stop)
    return running.variables
