"""Docker Compose checks: services up and healthy, required variables, service logs.

Catalogue items whose target is ``docker-compose ps``, ``docker-compose exec <svc> env``
and ``docker-compose logs <svc>``, read through the Docker Engine API (fixtures.docker):
the same facts the CLI prints, without a compose file or a shell. An engine that cannot be
read is an error; a service missing, stopped or unhealthy is a failure. Variable values
are never shown, only names.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.docker import ComposeProject, LogLines, ServiceContainer, ServiceEnv, ServiceUsage
from fixtures.verdict import Band, CheckFailure, fail, judge
from plugins.schema.docker import (
    ComposeEnvCheck,
    ComposeLogsCheck,
    ComposeServicesCheck,
    ComposeStatsCheck,
)

Record = Callable[[str, object], None]
MAX_LISTED = 5


def ago(seconds: float) -> str:
    whole = int(seconds)
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{whole}s"


# --- services -----------------------------------------------------------------------------


def container_problems(check: ComposeServicesCheck, container: ServiceContainer) -> list[str]:
    """What ``docker compose ps`` would show wrong for one container (empty when fine)."""
    problems = []
    if container.status == "restarting":
        problems.append(
            f"restart loop (Restarting, {container.restart_count} restarts, "
            f"last exit {container.exit_code})"
        )
    elif container.status != "running":
        when = f" {ago(container.finished_ago)} ago" if container.finished_ago is not None else ""
        problems.append(f"{container.status.capitalize()} ({container.exit_code}){when}")
    elif check.require_healthy and container.health == "unhealthy":
        last = f"; last probe: {container.last_probe}" if container.last_probe else ""
        problems.append(f"unhealthy ({container.failing_streak} failed probes in a row{last})")
    elif check.require_healthy and container.health == "starting":
        problems.append("health: starting (not yet healthy)")
    limit = check.max_restarts
    if limit is not None and container.restart_count > limit and container.status != "restarting":
        problems.append(f"restarted {container.restart_count} times (> {limit})")
    return problems


def failing_services(check: ComposeServicesCheck, project: ComposeProject) -> dict[str, str]:
    """Service name -> what is wrong with it, for each expected or present service."""
    failing: dict[str, str] = {}
    present = {c.service for c in project.containers}
    for service in check.services:
        if service not in present:
            failing[service] = "no container (not created or removed)"
    for container in project.containers:
        problems = container_problems(check, container)
        if problems:
            label = container.service
            if sum(1 for c in project.containers if c.service == label) > 1:
                label = f"{label} ({container.name})"
            failing[label] = ", ".join(problems)
    return failing


def severity_band(check: ComposeServicesCheck, count: int) -> Band | None:
    """crit or warn by the number of failing services; None when within the bands."""
    if check.bands is None:
        return "crit"
    for band, limit in (("crit", check.bands.crit), ("warn", check.bands.warn)):
        if limit is not None and count > limit:
            return band  # type: ignore[return-value]
    return None


def judge_services(check: ComposeServicesCheck, observation: ComposeProject) -> None:
    __tracebackhide__ = True
    project = observation.project
    if not observation.containers and not check.services:
        fail(
            f"compose project {project}: no containers",
            observed="0 containers",
            expected="the project's services running",
        )
    failing = failing_services(check, observation)
    if not failing:
        return
    band = severity_band(check, len(failing))
    if band is None:
        return
    total = len({c.service for c in observation.containers} | set(check.services))
    details = [f"{service}: {problem}" for service, problem in failing.items()]
    more = f" (+{len(details) - MAX_LISTED} more)" if len(details) > MAX_LISTED else ""
    fail(
        f"compose project {project}: {len(failing)} of {total} services not up: "
        + " | ".join(details[:MAX_LISTED])
        + more,
        observed=f"{len(failing)} services down",
        expected="every service running, healthy where it has a healthcheck",
        band=band,
        warn_severity=check.bands.warn_severity if check.bands else None,
    )


@pytest.mark.kind("compose_services")
@pytest.mark.severity("high")
def test_compose_services(check: ComposeServicesCheck, observation: ComposeProject) -> None:
    judge_services(check, observation)


# --- environment (names only) ---------------------------------------------------------------


def judge_env(check: ComposeEnvCheck, observation: ServiceEnv) -> None:
    __tracebackhide__ = True
    problems = []
    for container in observation.containers:
        missing = [name for name in check.variables if name not in container.present]
        differ = [name for name, same in container.equal.items() if not same]
        if missing:
            problems.append(f"{container.container}: {', '.join(missing)} not set")
        if differ:
            problems.append(
                f"{container.container}: {', '.join(differ)} differs from the expected value "
                "(compared by digest)"
            )
    if problems:
        fail(
            f"compose {observation.project} service {observation.service}: " + "; ".join(problems),
            observed="; ".join(problems),
            expected=f"set: {', '.join(check.variables)}",
        )


@pytest.mark.kind("compose_env")
@pytest.mark.severity("high")
def test_compose_env(check: ComposeEnvCheck, observation: ServiceEnv) -> None:
    judge_env(check, observation)


# --- logs ---------------------------------------------------------------------------------


def describe(check: ComposeLogsCheck, observation: LogLines) -> str:
    service = f"/{observation.service}" if observation.service else " (all services)"
    scope = f"{observation.project}{service} logs"
    window = f"last {check.tail} lines each" + (f" within {check.since}" if check.since else "")
    if check.count == "not_json":
        return f"{scope} ({window}): lines not JSON"
    return f"{scope} ({window}): lines matching {check.describe_pattern()}"


def with_lines(message: str, lines: tuple[str, ...]) -> str:
    return message + "".join(f"\n  | {line}" for line in lines)


def judge_logs(check: ComposeLogsCheck, observation: LogLines, record_property: Record) -> None:
    __tracebackhide__ = True
    what = describe(check, observation)
    if check.bands is None:
        record_property("observed", f"{observation.matched} of {observation.read} lines")
        record_property(
            "message", with_lines(f"{what}: {observation.matched}", observation.evidence)
        )
        return
    try:
        judge(what, observation.matched, check.bands)
    except CheckFailure as failure:
        raise CheckFailure(
            with_lines(failure.message, observation.evidence),
            observed=failure.observed,
            expected=failure.expected,
            band=failure.band,
            warn_severity=failure.warn_severity,
        ) from None


@pytest.mark.kind("compose_logs")
@pytest.mark.severity("medium")
def test_compose_logs(
    check: ComposeLogsCheck, observation: LogLines, record_property: Record
) -> None:
    judge_logs(check, observation, record_property)


# --- resource usage -------------------------------------------------------------------------


@pytest.mark.kind("compose_stats")
@pytest.mark.severity("low")
def test_compose_stats(
    check: ComposeStatsCheck,
    observation: tuple[ServiceUsage, ...],
    record_property: Callable[[str, object], None],
) -> None:
    """Informational: CPU and memory per service, as ``docker stats --no-stream``; never fails."""
    usage = "; ".join(
        f"{u.service} cpu {u.cpu_percent:.1f}% mem {u.memory_mib:.0f}MiB"
        + (f" ({u.containers} containers)" if u.containers > 1 else "")
        for u in observation
    )
    record_property("message", f"informational: {usage or 'no running containers'}")
