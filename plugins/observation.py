"""Owns the run's :class:`Observer` and starts every selected check's probe at once.

Serially, all probes are submitted when the test loop starts, so they run concurrently and
each test then waits only for its own. Under xdist each worker probes on demand (it does not
know in advance which tests it will be given). ``--collect-only`` never probes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fixtures.http import HttpClient
from fixtures.observe import ObservationError, Observer
from fixtures.probes import ProbeContext, probe_for
from plugins.collection import BoundCheck, bound_check
from plugins.environment import get_environment
from plugins.schema.http import HttpService

logger = logging.getLogger(__name__)

CONTEXT = pytest.StashKey[ProbeContext]()


def probe_context(config: pytest.Config) -> ProbeContext:
    """The run's probe context, created (with its observer thread) on first use."""
    if CONTEXT not in config.stash:
        env = get_environment(config)
        observer = Observer()
        http = HttpClient(env.section("services", HttpService), env.defaults.concurrency)
        observer.on_close(http.close)
        context = ProbeContext(env=env, observer=observer, http=http)
        config.stash[CONTEXT] = context
        config.add_cleanup(lambda: _close(context))
    return config.stash[CONTEXT]


def _close(context: ProbeContext) -> None:
    context.observer.close()


def _request(
    config: pytest.Config, bound: BoundCheck
) -> tuple[ProbeContext, Callable[[], Awaitable[Any]], float]:
    """The context, the probe call and the time budget of ``bound``'s observation."""
    context = probe_context(config)
    probe = probe_for(bound.spec)
    return context, lambda: probe(bound.spec, context), _budget(context, bound)


def start_probe(config: pytest.Config, bound: BoundCheck) -> None:
    """Submit ``bound``'s probe to the observer unless it is already under way."""
    context, factory, budget = _request(config, bound)
    context.observer.submit(bound.name, factory, budget)


def observe(config: pytest.Config, bound: BoundCheck) -> object:
    """The observation of ``bound`` (waiting for its probe); ObservationError if it failed."""
    context, factory, budget = _request(config, bound)
    return context.observer.result(bound.name, factory, budget)


def observe_again(config: pytest.Config, bound: BoundCheck) -> object:
    """Observe ``bound`` afresh (after a remediation), dropping cached observations."""
    context = probe_context(config)
    context.observer.forget(bound.name)
    context.observer.forget_shared()
    return observe(config, bound)


def _budget(context: ProbeContext, bound: BoundCheck) -> float:
    # A probe may make a few calls (a counter sampled twice, a watch): the kind says how long.
    return bound.spec.observation_budget(context.timeout_for(bound.spec))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    for item in session.items:
        bound = bound_check(item)
        if bound is not None:
            try:
                start_probe(config, bound)
            except (LookupError, ImportError) as problem:
                # Reported by the test itself when it asks for its observation.
                logger.debug("cannot start probe for %s: %s", bound.name, problem)


__all__ = ["ObservationError", "observe", "observe_again", "probe_context"]
