"""Markers, and the parametrisation of each check over the environment's entries of its kind.

A check function says which kind it judges (``@pytest.mark.kind("http_health")``); each
entry of that kind becomes one test whose id is the entry's name, carrying its cadence and
tag markers, so ``-m daily`` and ``-k detector`` select what users expect. Collection never
touches a target.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from plugins.environment import RAW, get_environment
from plugins.scale import to_internal
from plugins.schema import CHECK_KINDS, EnvironmentBase
from plugins.schema.base import CADENCES, TAGS, CheckSpec

MARKERS = {
    **{
        cadence: f"{cadence}: runs in the {cadence.replace('_', '-')} cadence"
        for cadence in CADENCES
    },
    **{tag: f"{tag}: a {tag} check (roll-up rules and -m select on it)" for tag in TAGS},
    "severity(level)": "severity(level): default severity of a check, e.g. "
    "@pytest.mark.severity('high'); the environment may override it per entry",
    "runbook(url)": "runbook(url): the runbook page for this check, e.g. "
    "@pytest.mark.runbook('https://wiki/runbooks/detector#health')",
    "live_k8s": "live_k8s: real-cluster Kubernetes checks (checks/test_kubernetes_live.py); they "
    "skip unless VIGIL_KUBECONFIG names a kubeconfig",
    "kind(name)": "kind(name): the check kind this function judges; it is run once per "
    "environment entry of that kind, e.g. @pytest.mark.kind('http_health')",
}


@dataclass(frozen=True)
class BoundCheck:
    """One environment entry bound to the test that judges it."""

    name: str
    spec: CheckSpec
    severity: str
    runbook: str | None
    tags: tuple[str, ...] = ()


BOUND = pytest.StashKey[BoundCheck]()
# Problems found while parametrising; raised from collection_modifyitems, where a UsageError
# ends the run with pytest's usage exit code (in generate_tests it would be a collect error).
PROBLEMS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)


def cadence_markers(check: CheckSpec, env: EnvironmentBase) -> list[str]:
    """The check's cadences after the environment's ``cadence_map`` (daily -> weekly)."""
    cadences = check.cadence or check.default_cadence()
    mapped = [env.cadence_map.get(cadence, cadence) for cadence in cadences]  # type: ignore[call-overload]
    return list(dict.fromkeys(mapped))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("kind")
    if marker is None:
        return
    where = metafunc.definition.nodeid
    problems = metafunc.config.stash.setdefault(PROBLEMS, [])
    unknown = [kind for kind in marker.args if kind not in CHECK_KINDS]
    if not marker.args or unknown or not all(isinstance(kind, str) for kind in marker.args):
        problems.append(
            f"{where}: @pytest.mark.kind needs known kind names, got {marker.args!r} "
            f"(known: {', '.join(sorted(CHECK_KINDS))})"
        )
        return
    if "check" not in metafunc.fixturenames:
        problems.append(f"{where}: a @pytest.mark.kind function takes a 'check' argument")
        return
    env = get_environment(metafunc.config)
    params = []
    for name, check in env.checks.items():
        if check.kind in marker.args and check.enabled:
            marks = [getattr(pytest.mark, cadence) for cadence in cadence_markers(check, env)]
            marks += [getattr(pytest.mark, tag) for tag in check.tags]
            params.append(pytest.param(check, id=name, marks=marks))
    metafunc.parametrize("check", params)


def default_severity(item: pytest.Item) -> str:
    """The function's ``severity`` marker, checked, else ``medium``."""
    marker = item.get_closest_marker("severity")
    if marker is None:
        return "medium"
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.severity takes one level name")
    try:
        return to_internal(marker.args[0])
    except ValueError as problem:
        raise pytest.UsageError(f"{item.nodeid}: {problem}") from None


def _runbook(item: pytest.Item, check: CheckSpec) -> str | None:
    if check.runbook:
        return check.runbook
    marker = item.get_closest_marker("runbook")
    if marker is None:
        return None
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.runbook takes one URL string")
    return marker.args[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Bind each parametrised test to its entry; drop kinds the environment has none of."""
    if RAW not in config.stash:
        return
    for problem in config.stash.get(PROBLEMS, []):
        raise pytest.UsageError(problem)
    kept, empty = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        check = callspec.params.get("check") if callspec is not None else None
        if item.get_closest_marker("kind") is not None and not isinstance(check, CheckSpec):
            empty.append(item)
            continue
        if isinstance(check, CheckSpec) and callspec is not None:
            severity = check.severity or default_severity(item)
            # Tags from the entry and from the function (@pytest.mark.security on auth checks).
            tags = tuple(sorted({m.name for m in item.iter_markers() if m.name in TAGS}))
            item.stash[BOUND] = BoundCheck(
                callspec.id, check, severity, _runbook(item, check), tags
            )
        kept.append(item)
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = kept


def bound_check(item: pytest.Item) -> BoundCheck | None:
    """The environment entry a test judges, or None for a plain test."""
    return item.stash.get(BOUND, None)
