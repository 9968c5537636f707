"""``--env``: load, validate and expose the environment the checks run against.

The file is read once in ``pytest_configure``; a bad file is a usage error of one line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

import pytest

from plugins import envfile
from plugins.schema import EnvironmentBase

logger = logging.getLogger(__name__)

ENVIRONMENT = pytest.StashKey[EnvironmentBase]()
RAW = pytest.StashKey[envfile.RawEnvironment]()
VARIABLES = pytest.StashKey[dict[str, str]]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from plugins import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vigil", "Vigil operational checks")
    group.addoption(
        "--env",
        dest="vigil_env",
        default=None,
        metavar="NAME",
        help="environment name in environments/ or a path to a YAML file "
        "(default: $VIGIL_ENV, else demo)",
    )
    group.addoption(
        "--list-envs",
        action="store_true",
        dest="vigil_list_envs",
        help="list the available environments and exit",
    )


def environment_name(config: pytest.Config) -> str:
    """The ``--env`` value, else ``$VIGIL_ENV``, else ``demo``."""
    value = config.getoption("vigil_env") or os.environ.get("VIGIL_ENV") or "demo"
    return str(value)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("vigil_list_envs"):
        return None
    # Before configure there is no terminal reporter yet; this is the whole output.
    for name, path, description in envfile.available():
        sys.stdout.write(f"{name:<22} {path.name:<28} {description}\n")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    if config.option.help:
        return
    try:
        raw = envfile.load_raw(envfile.find(environment_name(config)))
    except envfile.EnvFileError as problem:
        raise pytest.UsageError(str(problem)) from None
    variables = _variables(config, raw)
    try:
        environment = envfile.resolve(raw, {**os.environ, **variables})
    except envfile.EnvFileError as problem:
        raise pytest.UsageError(str(problem)) from None
    config.stash[RAW] = raw
    config.stash[VARIABLES] = variables
    config.stash[ENVIRONMENT] = environment
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_ShareVariablesWithWorkers(variables), "vigil-xdist-env")


def _variables(config: pytest.Config, raw: envfile.RawEnvironment) -> dict[str, str]:
    """Variables the testbed provides: started here, or handed down by the xdist controller."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None and "vigil_variables" in worker_input:
        return dict(json.loads(worker_input["vigil_variables"]))
    if raw.testbed is None:
        return {}
    started = config.hook.pytest_vigil_testbed_variables(config=config, raw=raw)
    return dict(started or {})


class _ShareVariablesWithWorkers:
    """Hands the controller's testbed variables to xdist workers, so one testbed serves all."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = json.dumps(dict(variables))

    def pytest_configure_node(self, node: object) -> None:
        node.workerinput["vigil_variables"] = self._variables  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if RAW not in config.stash:
        return []
    raw, env = config.stash[RAW], config.stash[ENVIRONMENT]
    chain = " <- ".join(str(path) for path in reversed(raw.files))
    enabled = sum(1 for check in env.checks.values() if check.enabled)
    return [f"vigil: environment {env.name} ({chain}); {enabled} checks defined"]


def get_environment(config: pytest.Config) -> EnvironmentBase:
    """The loaded environment (a usage error if ``--env`` was not loaded)."""
    try:
        return config.stash[ENVIRONMENT]
    except KeyError:
        raise pytest.UsageError("no environment loaded (is plugins.environment active?)") from None
