"""Checks on machines: services, sockets, file permissions, SUID files, disk, memory, accounts.

Catalogue kinds host_service, host_resource and host_security. The probes read the host
through testinfra (locally or over SSH); these functions only judge what they saw. A host
without systemd is said so in the observation: the service is then judged by its process
and sockets, never passed silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from fixtures.hosts import (
    MAX_LISTED,
    DirectorySize,
    FileFacts,
    Listener,
    PendingUpdates,
    PortsObservation,
    ServiceObservation,
    ServiceState,
    ShellUsers,
    SuidFacts,
    Usage,
    matching,
)
from fixtures.verdict import fail, judge, note
from plugins.schema.hosts import (
    HostDirectorySizeCheck,
    HostDiskCheck,
    HostFileCheck,
    HostMemoryCheck,
    HostPendingUpdatesCheck,
    HostPortsCheck,
    HostServiceCheck,
    HostShellUsersCheck,
    HostSuidCheck,
    ListenRule,
)


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", +{len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _judge_listen(what: str, rule: ListenRule, listeners: Sequence[Listener]) -> None:
    __tracebackhide__ = True
    held = matching(rule, listeners)
    if not held:
        fail(
            f"{what}: nothing listening on {rule.describe()}",
            observed="not listening",
            expected=f"{rule.describe()} listening",
        )
    if rule.process is None:
        return
    owners = sorted({(name, pid) for listener in held for name, pid in listener.owners})
    strangers = [f"{name} (pid {pid})" for name, pid in owners if not re.search(rule.process, name)]
    if strangers:
        fail(
            f"{what}: {rule.describe()} held by {', '.join(strangers)}, "
            f"expected only /{rule.process}/ (port conflict)",
            observed=", ".join(strangers),
            expected=f"/{rule.process}/ only",
        )


def _owners(rule: ListenRule, listeners: Sequence[Listener]) -> str:
    names = sorted(
        {f"{name} (pid {pid})" for item in matching(rule, listeners) for name, pid in item.owners}
    )
    return ", ".join(names) or "an unnamed process"


def _judge_service(check: HostServiceCheck, state: ServiceState, when: str = "") -> None:
    __tracebackhide__ = True
    what = f"{check.service} on {state.host}{when}"
    if state.has_systemd and state.active_state != "active":
        shown = f"{state.active_state or 'unknown'} ({state.sub_state or '?'})"
        fail(
            f"{what}: {shown}, expected active (running)",
            observed=shown,
            expected="active (running)",
        )
    instead = "" if state.has_systemd else f"; {state.manager}, so the process was checked"
    if check.process is not None and not state.processes:
        fail(
            f"{what}: no process matching /{check.process}/{instead}",
            observed="no process",
            expected=f"a process matching /{check.process}/",
        )
    for rule in check.listening:
        _judge_listen(what, rule, state.listeners)


def _service_summary(check: HostServiceCheck, state: ServiceState) -> str:
    if state.has_systemd:
        parts = [f"systemd: {state.active_state} ({state.sub_state}), main pid {state.main_pid}"]
    else:
        parts = [f"{state.manager}, so checked instead:"]
    if check.process is not None:
        pids = ", ".join(f"pid {p.pid} up {p.elapsed_s}s" for p in state.processes)
        parts.append(f"process /{check.process}/ running ({pids})")
    parts += [f"{rule.describe()} listening" for rule in check.listening]
    return " ".join(parts)


@pytest.mark.kind("host_service")
@pytest.mark.severity("high")
def test_host_service(
    check: HostServiceCheck, observation: ServiceObservation, request: pytest.FixtureRequest
) -> None:
    _judge_service(check, observation.first)
    second = observation.second
    if second is not None:
        _judge_service(check, second, f" {observation.waited_s:g}s later")
        before, after = observation.first.identity(), second.identity()
        if before != after:
            fail(
                f"{check.service} on {second.host}: restarted within {observation.waited_s:g}s "
                f"(pid {_pids(before)} -> {_pids(after)}), expected to stay up",
                observed=f"pid {_pids(before)} -> {_pids(after)}",
                expected="same process",
            )
    note(request, _service_summary(check, second or observation.first))


def _pids(pids: tuple[int, ...]) -> str:
    return ",".join(str(pid) for pid in pids) or "none"


@pytest.mark.kind("host_ports")
@pytest.mark.severity("medium")
@pytest.mark.security
def test_host_ports(
    check: HostPortsCheck, observation: PortsObservation, request: pytest.FixtureRequest
) -> None:
    for rule in check.required:
        _judge_listen(observation.host, rule, observation.listeners)
    shown = sorted({listener.describe() for listener in observation.listeners})
    if check.allowed is not None:
        expected = set(check.allowed) | {rule.port_number for rule in check.required}
        extra = sorted(
            {item.describe() for item in observation.listeners if item.port not in expected}
        )
        if extra:
            fail(
                f"{observation.host}: {len(extra)} listening socket(s) not in the allow-list: "
                f"{_listing(extra)}",
                observed=_listing(extra),
                expected=f"only ports {sorted(expected)}",
            )
    if check.required:
        held = [
            f"{rule.describe()} held by {_owners(rule, observation.listeners)}"
            for rule in check.required
        ]
        note(request, "; ".join(held))
    else:
        note(request, f"{len(shown)} listening: {_listing(shown)}")


@pytest.mark.kind("host_file")
@pytest.mark.severity("high")
@pytest.mark.security
def test_host_file(
    check: HostFileCheck, observation: FileFacts, request: pytest.FixtureRequest
) -> None:
    what = f"{check.path} on {observation.host}"
    if not observation.exists:
        fail(f"{what}: missing", observed="missing", expected="exists")
    wrong: list[tuple[str, str, str]] = []
    if check.type is not None and observation.type != check.type:
        wrong.append(("type", observation.type, check.type))
    if check.owner is not None and observation.owner != check.owner:
        wrong.append(("owner", observation.owner, check.owner))
    if check.group is not None and observation.group != check.group:
        wrong.append(("group", observation.group, check.group))
    if check.mode is not None and observation.mode != check.mode:
        wrong.append(("mode", f"{observation.mode:04o}", f"{check.mode:04o}"))
    if wrong:
        fail(
            f"{what}: "
            + "; ".join(f"{name} {seen}, expected {want}" for name, seen, want in wrong),
            observed=", ".join(f"{name} {seen}" for name, seen, _ in wrong),
            expected=", ".join(f"{name} {want}" for name, _, want in wrong),
        )
    note(
        request,
        f"{observation.type} {observation.owner}:{observation.group} {observation.mode:04o}"
        + (" (and everything below it)" if check.recursive else ""),
    )
    if observation.strays:
        owner = f"{check.owner or '*'}:{check.group or '*'}"
        more = "+" if observation.more_strays else ""
        fail(
            f"{what}: {len(observation.strays)}{more} entries below it not owned by {owner}: "
            f"{_listing(list(observation.strays))}",
            observed=f"{len(observation.strays)}{more} entries",
            expected=f"all owned by {owner}",
        )


@pytest.mark.kind("host_suid")
@pytest.mark.severity("high")
@pytest.mark.security
def test_host_suid(
    check: HostSuidCheck, observation: SuidFacts, request: pytest.FixtureRequest
) -> None:
    unexpected = [
        f"{path} ({detail})" for path, detail in observation.found if path not in check.allowed
    ]
    if unexpected:
        fail(
            f"{len(unexpected)} SUID/SGID file(s) under {', '.join(observation.paths)} on "
            f"{observation.host}: {_listing(unexpected)}",
            observed=_listing(unexpected),
            expected=f"none beyond {check.allowed or 'nothing'}",
        )
    note(request, f"{len(observation.found)} SUID/SGID file(s), all allowed")


@pytest.mark.kind("host_disk")
@pytest.mark.severity("high")
@pytest.mark.capacity
def test_host_disk(
    check: HostDiskCheck, observation: Usage, request: pytest.FixtureRequest
) -> None:
    note(request, observation.detail)
    judge(f"{observation.what} used", observation.percent, check.bands)


@pytest.mark.kind("host_memory")
@pytest.mark.severity("high")
@pytest.mark.capacity
def test_host_memory(
    check: HostMemoryCheck, observation: Usage, request: pytest.FixtureRequest
) -> None:
    note(request, observation.detail)
    judge(f"{observation.what} used", observation.percent, check.bands)


def _size(megabytes: float) -> str:
    return f"{megabytes:.1f} MB" if megabytes >= 1 else f"{megabytes * 1024:.0f} KB"


@pytest.mark.kind("host_directory_size")
@pytest.mark.severity("low")
@pytest.mark.capacity
def test_host_directory_size(
    check: HostDirectorySizeCheck, observation: DirectorySize, request: pytest.FixtureRequest
) -> None:
    what = f"{observation.path} on {observation.host}"
    summary = _size(observation.total_mb)
    if observation.recent_mb is not None:
        window = check.modified_within
        summary += f"; {_size(observation.recent_mb)} in {check.name} changed within {window}"
    note(request, summary)
    if check.bands is not None:
        judge(f"{what} size", observation.total_mb, check.bands)
    if check.growth_bands is not None and observation.recent_mb is not None:
        judge(
            f"{what} growth in {check.modified_within}", observation.recent_mb, check.growth_bands
        )


@pytest.mark.kind("host_shell_users")
@pytest.mark.severity("medium")
@pytest.mark.security
def test_host_shell_users(
    check: HostShellUsersCheck, observation: ShellUsers, request: pytest.FixtureRequest
) -> None:
    accounts = [f"{user} ({shell})" for user, shell in observation.users]
    if check.allowed is not None:
        unexpected = [
            f"{user} ({shell})" for user, shell in observation.users if user not in check.allowed
        ]
        if unexpected:
            fail(
                f"{observation.host}: {len(unexpected)} account(s) with a login shell beyond the "
                f"allow-list: {_listing(unexpected)}",
                observed=_listing(unexpected),
                expected=f"only {', '.join(check.allowed) or 'none'}",
            )
    note(request, f"{len(accounts)} with a login shell: {_listing(accounts)}")


@pytest.mark.kind("host_pending_updates")
@pytest.mark.severity("medium")
@pytest.mark.security
def test_host_pending_updates(
    check: HostPendingUpdatesCheck, observation: PendingUpdates, request: pytest.FixtureRequest
) -> None:
    which = "security updates" if check.security_only else "updates"
    age = (
        f"apt lists {observation.lists_age_days:.1f} days old"
        if observation.lists_age_days is not None
        else "apt lists of unknown age"
    )
    packages = list(observation.packages)
    shown = ", ".join(packages[:5]) + (f", +{len(packages) - 5} more" if len(packages) > 5 else "")
    note(request, f"{len(packages)} {which} pending ({age})")
    what = f"{which} pending on {observation.host} ({shown}; {age})" if packages else which
    judge(what, len(packages), check.bands)
