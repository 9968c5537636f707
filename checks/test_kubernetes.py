"""Kubernetes checks: rollouts, pods, services, HPA, CronJobs, nodes, secrets, policy, RBAC.

Catalogue kinds k8s_workload, k8s_cronjob and k8s_hpa, and the namespace, secret,
NetworkPolicy and RBAC items of the Kubernetes runbooks. The probes (fixtures.kubernetes)
read the API through the official client; these functions only judge. A missing
namespace or object fails (the cluster answered: what the runbook expects is not there);
an API that cannot be read (401, 403, 429, 5xx, no answer) is an error.

The ``judge_*`` functions are plain functions so the live-cluster module reuses them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from fixtures.kubernetes import (
    AccessDecision,
    CronJob,
    CronJobState,
    Deployments,
    DeploymentState,
    Hpa,
    ImageDrift,
    JobLogs,
    NamespaceState,
    NodeState,
    Pods,
    PodState,
    PodUsage,
    Policies,
    Pvcs,
    SecretFreshness,
    SecretNames,
    SecretRefs,
    ServerVersion,
    Services,
    quantity_bytes,
)
from fixtures.verdict import fail
from plugins.schema.base import duration_seconds
from plugins.schema.kubernetes import (
    K8sAccessCheck,
    K8sCronJobCheck,
    K8sDeploymentsCheck,
    K8sHpaCheck,
    K8sImageDriftCheck,
    K8sJobLogsCheck,
    K8sNamespaceCheck,
    K8sNetworkPolicyCheck,
    K8sNodesCheck,
    K8sPodsCheck,
    K8sPvcsCheck,
    K8sSecretFreshnessCheck,
    K8sSecretRefsCheck,
    K8sSecretsCheck,
    K8sServicesCheck,
    K8sTopPodsCheck,
    K8sVersionCheck,
)

MAX_LISTED = 5
HPA_CONDITIONS = (("ScalingActive", "metrics do not resolve"), ("AbleToScale", "cannot scale"))
# Waiting reasons that never resolve by waiting: a pod showing one is broken now.
BROKEN_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def ago(seconds: float) -> str:
    """``2d 3h``, ``47m``, ``35s``: an age as kubectl prints it."""
    whole = int(seconds)
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{whole}s"


def plural(count: int, word: str) -> str:
    """``1 replica``, ``3 replicas``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def listed(items: list[str], separator: str = "; ") -> str:
    more = f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return separator.join(items[:MAX_LISTED]) + more


def require_namespace(cluster: str, namespace: str, exists: bool) -> None:
    __tracebackhide__ = True
    if not exists:
        fail(
            f"namespace {namespace} does not exist in cluster {cluster}",
            observed="namespace absent",
            expected=f"namespace {namespace}",
        )


# --- namespace ----------------------------------------------------------------------------


def judge_namespace(check: K8sNamespaceCheck, observation: NamespaceState) -> None:
    __tracebackhide__ = True
    require_namespace(check.cluster, observation.name, observation.phase is not None)
    if observation.phase != "Active":
        fail(
            f"namespace {observation.name} is {observation.phase}",
            observed=observation.phase,
            expected="Active",
        )


@pytest.mark.kind("k8s_version")
@pytest.mark.severity("medium")
def test_k8s_version(check: K8sVersionCheck, observation: ServerVersion) -> None:
    wanted = tuple(int(part) for part in check.minimum.split("."))
    if (observation.major, observation.minor) < wanted:
        fail(
            f"cluster {check.cluster} runs Kubernetes {observation.git_version}, "
            f"expected >= {check.minimum}",
            observed=observation.git_version,
            expected=f">= {check.minimum}",
        )


@pytest.mark.kind("k8s_namespace")
@pytest.mark.severity("high")
def test_k8s_namespace(check: K8sNamespaceCheck, observation: NamespaceState) -> None:
    judge_namespace(check, observation)


# --- deployments --------------------------------------------------------------------------


def deployment_problems(check: K8sDeploymentsCheck, item: DeploymentState) -> list[str]:
    """What keeps ``kubectl rollout status`` waiting, plus availability and pinned fields."""
    problems = []
    if check.replicas is not None and item.desired != check.replicas:
        problems.append(f"{plural(item.desired, 'replica')} desired, expected {check.replicas}")
    if item.observed_generation < item.generation:
        problems.append(
            f"spec generation {item.generation} not yet observed "
            f"(controller at {item.observed_generation})"
        )
    if item.progress_reason:
        problems.append(f"rollout stuck: {item.progress_reason} ({item.progress_message})")
    if item.updated < item.desired:
        problems.append(f"{item.updated} of {item.desired} new replicas updated")
    if item.total > item.updated:
        old = plural(item.total - item.updated, "old replica")
        problems.append(f"{old} pending termination")
    if item.available < item.desired:
        problems.append(f"{item.available} of {item.desired} replicas available")
    for name, wanted in check.env.items():
        actual = item.env.get(name)
        if actual != wanted:
            shown = "not set" if actual is None else repr(actual)
            problems.append(f"env {name} = {shown}, expected {wanted!r}")
    return problems


def judge_deployments(check: K8sDeploymentsCheck, observation: Deployments) -> None:
    __tracebackhide__ = True
    namespace = observation.namespace
    require_namespace(check.cluster, namespace, observation.namespace_exists)
    failing = {name: ["not found"] for name in observation.missing}
    for item in observation.items:
        problems = deployment_problems(check, item)
        if problems:
            failing[item.name] = problems
    if not failing and not observation.items:
        fail(
            f"no deployments in namespace {namespace}",
            observed="0 deployments",
            expected=">= 1",
        )
    if not failing:
        return
    total = len(observation.items) + len(observation.missing)
    if len(failing) == 1:
        name, problems = next(iter(failing.items()))
        message = f"deployment {namespace}/{name}: {'; '.join(problems)}"
    else:
        details = [f"{name}: {', '.join(problems)}" for name, problems in failing.items()]
        message = f"{len(failing)} of {total} deployments in {namespace} not rolled out: " + listed(
            details, " | "
        )
    fail(
        message,
        observed=f"{len(failing)} of {total} not rolled out",
        expected="updated = available = desired replicas, no old replicas, progressing",
    )


@pytest.mark.kind("k8s_deployments")
@pytest.mark.severity("high")
def test_k8s_deployments(check: K8sDeploymentsCheck, observation: Deployments) -> None:
    judge_deployments(check, observation)


# --- pods ---------------------------------------------------------------------------------


def pod_problems(check: K8sPodsCheck, pod: PodState) -> list[str]:
    """Why a pod is not Running and Ready (empty when it is, or Completed)."""
    if pod.phase == "Succeeded" or pod.terminating:
        return []
    limit = duration_seconds(check.pending_for)
    problems = []
    if pod.phase == "Failed":
        problems.append(f"Failed{f' ({pod.reason})' if pod.reason else ''}")
    broken = [(container, reason) for container, reason in pod.waiting if reason in BROKEN_WAITING]
    problems += [f"{reason} (container {container})" for container, reason in broken]
    if pod.phase == "Pending" and not broken and pod.age > limit:
        problems.append(f"Pending for {ago(pod.age)} (> {check.pending_for})")
    if pod.phase == "Unknown":
        problems.append("phase Unknown (node not reporting?)")
    not_ready_long = pod.not_ready_for is None or pod.not_ready_for > limit
    if check.ready and pod.phase == "Running" and not pod.ready and not_ready_long:
        since = f" for {ago(pod.not_ready_for)}" if pod.not_ready_for is not None else ""
        problems.append(f"not Ready{since}")
    if check.max_restarts is not None and pod.restarts > check.max_restarts:
        problems.append(f"restarted {plural(pod.restarts, 'time')} (> {check.max_restarts})")
    elif problems and pod.restarts:
        problems.append(f"restarted {plural(pod.restarts, 'time')}")
    if problems and pod.last_exit:
        problems.append(f"last {pod.last_exit}")
    return problems


def pod_scope(observation: Pods) -> str:
    where = f"pods in {observation.namespace}"
    return f"{where} ({observation.selector})" if observation.selector else where


def judge_pods_absent(observation: Pods) -> None:
    __tracebackhide__ = True
    present = [p for p in observation.items if p.phase not in ("Succeeded", "Failed")]
    if present:
        shown = [f"{p.name} {'Terminating' if p.terminating else p.phase}" for p in present]
        fail(
            f"{pod_scope(observation)}: {len(present)} still present, expected none: "
            + listed(shown, ", "),
            observed=f"{len(present)} pods",
            expected="0 pods",
        )


def judge_pods(check: K8sPodsCheck, observation: Pods) -> None:
    __tracebackhide__ = True
    if check.expect == "absent":
        judge_pods_absent(observation)
        return
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    scope = pod_scope(observation)
    if observation.missing:
        fail(
            f"{scope}: {', '.join(observation.missing)} not found",
            observed=f"missing: {', '.join(observation.missing)}",
            expected="pod present, Running and Ready",
        )
    if not observation.items:
        fail(f"{scope}: no pods", observed="0 pods", expected=">= 1 pod Running and Ready")
    unhealthy = [(pod, pod_problems(check, pod)) for pod in observation.items]
    unhealthy = [(pod, problems) for pod, problems in unhealthy if problems]
    if unhealthy:
        details = [f"{pod.name}: {', '.join(problems)}" for pod, problems in unhealthy]
        fail(
            f"{scope}: {len(unhealthy)} of {len(observation.items)} unhealthy: "
            + listed(details, " | "),
            observed=f"{len(unhealthy)} unhealthy",
            expected="every pod Running and Ready (or Completed)",
        )


@pytest.mark.kind("k8s_pods")
@pytest.mark.severity("high")
def test_k8s_pods(check: K8sPodsCheck, observation: Pods) -> None:
    judge_pods(check, observation)


# --- services -----------------------------------------------------------------------------


def judge_services(check: K8sServicesCheck, observation: Services) -> None:
    __tracebackhide__ = True
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    problems = [f"{name}: not found" for name in observation.missing]
    for service in observation.items:
        if service.type == "ExternalName" or len(service.ready) >= check.min_ready:
            continue
        waiting = f" (not ready: {listed(list(service.not_ready), ', ')})"
        problems.append(
            f"{service.name}: {plural(len(service.ready), 'ready endpoint')} < {check.min_ready}"
            + (waiting if service.not_ready else "")
        )
    if problems:
        fail(
            f"services in {observation.namespace}: {listed(problems)}",
            observed=f"{len(problems)} of {len(check.names)} without ready endpoints",
            expected=f"each service with >= {check.min_ready} ready endpoints",
        )


@pytest.mark.kind("k8s_services")
@pytest.mark.severity("high")
def test_k8s_services(check: K8sServicesCheck, observation: Services) -> None:
    judge_services(check, observation)


# --- horizontal pod autoscaler --------------------------------------------------------------


def judge_hpa(check: K8sHpaCheck, observation: Hpa) -> None:
    __tracebackhide__ = True
    where = f"hpa {observation.namespace}/{observation.name}"
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    hpa = observation.state
    if hpa is None:
        fail(f"{where} not found", observed="absent", expected="the HPA")
    problems = []
    pinned = (
        ("CPU target", hpa.target_utilization, check.target_utilization, "%"),
        ("minReplicas", hpa.min_replicas, check.min_replicas, ""),
        ("maxReplicas", hpa.max_replicas, check.max_replicas, ""),
    )
    for label, actual, wanted, unit in pinned:
        if wanted is not None and actual != wanted:
            problems.append(f"{label} {actual}{unit}, expected {wanted}{unit}")
    for kind, meaning in (
        ("ScalingActive", "metrics do not resolve"),
        ("AbleToScale", "cannot scale"),
    ):
        status, reason, message = hpa.conditions.get(kind, ("Unknown", "", ""))
        if status == "False":
            problems.append(f"{meaning}: {reason}: {message}")
    if not hpa.min_replicas <= hpa.current <= hpa.max_replicas:
        problems.append(f"{hpa.current} replicas outside {hpa.min_replicas}-{hpa.max_replicas}")
    usage, target = hpa.current_utilization, hpa.target_utilization
    if hpa.current >= hpa.max_replicas and usage is not None and target and usage > target:
        problems.append(
            f"at maxReplicas {hpa.max_replicas} with CPU {usage}% > target {target}%: "
            "cannot scale further"
        )
    if problems:
        fail(
            f"{where} ({hpa.scale_target}): {'; '.join(problems)}",
            observed=f"{hpa.current} replicas, CPU {usage}%",
            expected=f"{hpa.min_replicas}-{hpa.max_replicas} replicas, metrics resolving",
        )


@pytest.mark.kind("k8s_hpa")
@pytest.mark.severity("medium")
def test_k8s_hpa(check: K8sHpaCheck, observation: Hpa) -> None:
    judge_hpa(check, observation)


# --- cronjobs -----------------------------------------------------------------------------


def cronjob_manifest_problems(check: K8sCronJobCheck, state: CronJobState) -> list[str]:
    problems = []
    if check.schedule is not None and state.schedule != check.schedule:
        problems.append(f"schedule {state.schedule!r}, expected {check.schedule!r}")
    if check.image is not None and check.image not in state.images:
        problems.append(f"image {', '.join(state.images)}, expected {check.image}")
    if check.restart_policy is not None and state.restart_policy != check.restart_policy:
        problems.append(f"restartPolicy {state.restart_policy}, expected {check.restart_policy}")
    return problems


def cronjob_freshness_problems(state: CronJobState, max_age: str, at: dt.datetime) -> list[str]:
    problems = []
    if state.suspended:
        problems.append("suspended (spec.suspend: true)")
    if state.last_success is None:
        problems.append("never completed successfully")
    else:
        age = (at - state.last_success).total_seconds()
        if age > duration_seconds(max_age):
            stamp = state.last_success.strftime("%Y-%m-%dT%H:%M:%SZ")
            problems.append(f"last successful run {ago(age)} ago ({stamp}) > {max_age}")
    if state.failed_since:
        failures = [
            f"{job.name} ({job.reason}"
            + (f", {ago((at - job.at).total_seconds())} ago)" if job.at else ")")
            for job in state.failed_since
        ]
        problems.append(f"{plural(len(failures), 'job')} failed since: {listed(failures, ', ')}")
    return problems


def judge_cronjob(check: K8sCronJobCheck, observation: CronJob) -> None:
    __tracebackhide__ = True
    where = f"cronjob {observation.namespace}/{observation.name}"
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    state = observation.state
    if state is None:
        fail(f"{where} not found", observed="absent", expected="the CronJob")
    problems = cronjob_manifest_problems(check, state)
    if check.max_age is not None:
        problems += cronjob_freshness_problems(state, check.max_age, observation.observed_at)
    if problems:
        last = state.last_success
        fail(
            f"{where}: {'; '.join(problems)}",
            observed=f"last success {last:%Y-%m-%dT%H:%M:%SZ}" if last else "never succeeded",
            expected=f"success within {check.max_age}" if check.max_age else "manifest as pinned",
        )


@pytest.mark.kind("k8s_cronjob")
@pytest.mark.severity("high")
def test_k8s_cronjob(check: K8sCronJobCheck, observation: CronJob) -> None:
    judge_cronjob(check, observation)


# --- nodes --------------------------------------------------------------------------------


def judge_nodes(check: K8sNodesCheck, observation: tuple[NodeState, ...]) -> None:
    __tracebackhide__ = True
    problems = [
        f"{node.name}: {'Ready' if node.ready else f'NotReady ({node.ready_reason})'}"
        + (f", {', '.join(node.pressures)}" if node.pressures else "")
        for node in observation
        if not node.ready or node.pressures
    ]
    ready = sum(1 for node in observation if node.ready)
    if ready < check.min_ready:
        problems.insert(0, f"{plural(ready, 'node')} Ready < {check.min_ready}")
    if problems:
        fail(
            f"nodes of cluster {check.cluster}: {listed(problems)}",
            observed=f"{ready} of {len(observation)} Ready",
            expected="every node Ready, no pressure conditions",
        )


@pytest.mark.kind("k8s_nodes")
@pytest.mark.severity("high")
def test_k8s_nodes(check: K8sNodesCheck, observation: tuple[NodeState, ...]) -> None:
    judge_nodes(check, observation)


# --- secrets (names only) -------------------------------------------------------------------


def judge_secrets(check: K8sSecretsCheck, observation: SecretNames) -> None:
    __tracebackhide__ = True
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    missing = [name for name in check.names if name not in observation.names]
    if missing:
        fail(
            f"secrets missing in {observation.namespace}: {', '.join(missing)}",
            observed=f"missing: {', '.join(missing)}",
            expected=f"present: {', '.join(check.names)}",
        )


@pytest.mark.kind("k8s_secrets")
@pytest.mark.severity("high")
@pytest.mark.security
def test_k8s_secrets(check: K8sSecretsCheck, observation: SecretNames) -> None:
    judge_secrets(check, observation)


# --- network policies -----------------------------------------------------------------------


def judge_network_policies(check: K8sNetworkPolicyCheck, observation: Policies) -> None:
    __tracebackhide__ = True
    namespace = observation.namespace
    require_namespace(check.cluster, namespace, observation.namespace_exists)
    names = [policy.name for policy in observation.items]
    problems = []
    deny = [
        p
        for p in observation.items
        if p.selects_all and "Ingress" in p.types and not p.ingress_rules
    ]
    if check.default_deny and not deny:
        problems.append(
            "no default-deny ingress policy (podSelector: {}, policyTypes [Ingress], "
            f"no ingress rules); policies: {', '.join(names) or 'none'}"
        )
    missing = [name for name in check.policies if name not in names]
    if missing:
        problems.append(f"allow policies missing: {', '.join(missing)}")
    problems += [f"{v.what} not allowed: {v.reason}" for v in observation.reach if not v.allowed]
    problems += list(observation.loose_callers)
    if problems:
        fail(
            f"network policies in {namespace}: {'; '.join(problems)}",
            observed=", ".join(names) or "no policies",
            expected="default deny, then explicit allow rules",
        )


@pytest.mark.kind("k8s_network_policy")
@pytest.mark.severity("high")
@pytest.mark.security
def test_k8s_network_policy(check: K8sNetworkPolicyCheck, observation: Policies) -> None:
    judge_network_policies(check, observation)


# --- access reviews -------------------------------------------------------------------------


def judge_access(check: K8sAccessCheck, observation: tuple[AccessDecision, ...]) -> None:
    __tracebackhide__ = True
    answers = {decision.permission: decision for decision in observation}
    problems = [f"cannot {p} (expected allowed)" for p in check.allowed if not answers[p].allowed]
    for permission in check.denied:
        decision = answers[permission]
        if decision.allowed:
            why = f"; {decision.reason}" if decision.reason else ""
            problems.append(f"can {permission} (expected denied{why})")
    if problems:
        fail(
            f"identity of cluster entry {check.cluster} in namespace {check.namespace}: "
            + "; ".join(problems),
            observed=f"{len(problems)} permissions wrong",
            expected=f"allowed: {', '.join(check.allowed) or '-'}; "
            f"denied: {', '.join(check.denied) or '-'}",
        )


@pytest.mark.kind("k8s_access")
@pytest.mark.severity("high")
@pytest.mark.security
def test_k8s_access(check: K8sAccessCheck, observation: tuple[AccessDecision, ...]) -> None:
    judge_access(check, observation)


# --- secret rotation ------------------------------------------------------------------------


def judge_secret_freshness(check: K8sSecretFreshnessCheck, observation: SecretFreshness) -> None:
    __tracebackhide__ = True
    where = f"{observation.namespace}/{observation.secret}"
    if observation.updated is None:
        fail(f"secret {where} does not exist", observed="absent", expected="present")
    if not observation.pods:
        fail(
            f"no pods match {check.selector} in {observation.namespace}",
            observed="0 pods",
            expected="pods using the secret",
        )
    updated = observation.updated
    stale = [p for p in observation.pods if p.started is None or p.started < updated]
    if stale:
        names = ", ".join(p.name for p in stale[:MAX_LISTED])
        fail(
            f"{len(stale)}/{len(observation.pods)} pods started before secret {where} was last "
            f"updated ({updated:%Y-%m-%d %H:%M}Z by {observation.updated_by}): {names}; "
            "they still hold the old value (kubectl rollout restart)",
            observed=f"{len(stale)} stale pods",
            expected=f"every pod started after {updated:%Y-%m-%d %H:%M}Z",
        )


@pytest.mark.kind("k8s_secret_freshness")
@pytest.mark.severity("high")
@pytest.mark.security
def test_k8s_secret_freshness(check: K8sSecretFreshnessCheck, observation: SecretFreshness) -> None:
    judge_secret_freshness(check, observation)


# --- secret references ----------------------------------------------------------------------


def judge_secret_refs(check: K8sSecretRefsCheck, observation: SecretRefs) -> None:
    __tracebackhide__ = True
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    problems = []
    if observation.missing:
        problems.append(f"deployments missing: {', '.join(observation.missing)}")
    for variable in check.variables:
        found = {name: refs[variable] for name, refs in observation.sources.items()}
        if not found:
            continue
        unset = [name for name, refs in found.items() if not refs]
        wiring = {refs for refs in found.values() if refs}
        if unset:
            problems.append(f"{variable} not set in {', '.join(unset)}")
        if len(wiring) > 1 or any(len(refs) > 1 for refs in wiring):
            detail = "; ".join(f"{n}: {' + '.join(r) or 'unset'}" for n, r in found.items())
            problems.append(f"{variable} comes from different sources ({detail})")
        elif wiring and not next(iter(wiring))[0].startswith("secret "):
            problems.append(f"{variable} is not from a Secret ({next(iter(wiring))[0]})")
    if observation.literals:
        shown = ", ".join(observation.literals[:MAX_LISTED])
        problems.append(f"set in plain text at {shown} (values not shown)")
    if problems:
        fail(
            f"secret wiring in {observation.namespace}: {'; '.join(problems)}",
            observed="; ".join(problems),
            expected="one Secret name and key per variable; no literal values",
        )


@pytest.mark.kind("k8s_secret_refs")
@pytest.mark.severity("high")
@pytest.mark.security
def test_k8s_secret_refs(check: K8sSecretRefsCheck, observation: SecretRefs) -> None:
    judge_secret_refs(check, observation)


# --- persistent volume claims ---------------------------------------------------------------


def judge_pvcs(check: K8sPvcsCheck, observation: Pvcs) -> None:
    __tracebackhide__ = True
    require_namespace(check.cluster, observation.namespace, observation.namespace_exists)
    problems = [f"{name} missing" for name in observation.missing]
    minimum = quantity_bytes(check.min_capacity)
    for claim in observation.items:
        if claim.phase != "Bound":
            problems.append(f"{claim.name} is {claim.phase} (requested {claim.requested or '?'})")
        elif claim.capacity_bytes is None:
            problems.append(f"{claim.name} is Bound but its capacity is unknown")
        elif minimum is not None and claim.capacity_bytes < minimum:
            problems.append(f"{claim.name} capacity {claim.capacity} < {check.min_capacity}")
    if problems:
        fail(
            f"PVCs in {observation.namespace}: {'; '.join(problems)}",
            observed="; ".join(problems),
            expected="Bound, capacity known" + (f", >= {check.min_capacity}" if minimum else ""),
        )


@pytest.mark.kind("k8s_pvcs")
@pytest.mark.severity("high")
def test_k8s_pvcs(check: K8sPvcsCheck, observation: Pvcs) -> None:
    judge_pvcs(check, observation)


# --- job logs -------------------------------------------------------------------------------


Record = Callable[[str, object], None]


def judge_job_logs(check: K8sJobLogsCheck, observation: JobLogs, record: Record) -> None:
    __tracebackhide__ = True
    where = f"{observation.namespace}/{observation.cronjob}"
    if observation.job is None:
        summary = f"no Job of CronJob {where} exists"
    elif not observation.pods:
        summary = f"Job {observation.job} has no pods left to read logs from"
    elif observation.match_count:
        summary = f"Job {observation.job}: {observation.match_count} error lines: " + " | ".join(
            observation.matches
        )
    else:
        summary = f"Job {observation.job}: no error lines in {len(observation.pods)} pod logs"
    clean = observation.job is not None and bool(observation.pods) and not observation.match_count
    if check.informational or clean:
        record("message", ("informational: " if check.informational else "") + summary)
        return
    fail(summary, observed=summary, expected="a backup Job whose log has no error lines")


@pytest.mark.kind("k8s_job_logs")
@pytest.mark.severity("medium")
def test_k8s_job_logs(
    check: K8sJobLogsCheck, observation: JobLogs, record_property: Record
) -> None:
    judge_job_logs(check, observation, record_property)


# --- image drift ----------------------------------------------------------------------------


def judge_image_drift(check: K8sImageDriftCheck, observation: ImageDrift) -> None:
    __tracebackhide__ = True
    here, there = observation.namespace, observation.compare_namespace
    problems = []
    for name in observation.names:
        mine = observation.images.get(name)
        theirs = observation.compare_images.get(name)
        if mine is None:
            problems.append(f"{name} missing in {here}")
        elif theirs is None:
            problems.append(f"{name} missing in {there}")
        elif mine != theirs:
            problems.append(f"{name}: {here} {', '.join(mine)} vs {there} {', '.join(theirs)}")
    if problems:
        fail(
            f"images differ between {here} and {there}: {'; '.join(problems)}",
            observed=f"{len(problems)} deployments differ",
            expected=f"{there} runs the images of {here}",
        )


@pytest.mark.kind("k8s_image_drift")
@pytest.mark.severity("medium")
def test_k8s_image_drift(check: K8sImageDriftCheck, observation: ImageDrift) -> None:
    judge_image_drift(check, observation)


# --- pod metrics ----------------------------------------------------------------------------


@pytest.mark.kind("k8s_top_pods")
@pytest.mark.severity("low")
def test_k8s_top_pods(
    check: K8sTopPodsCheck, observation: tuple[PodUsage, ...], record_property: Record
) -> None:
    """Informational: reports each pod's usage as ``kubectl top pods`` would; never fails."""
    usage = "; ".join(
        f"{u.name} cpu {u.cpu_millicores:.0f}m mem {u.memory_mib:.0f}Mi" for u in observation
    )
    record_property("message", f"informational: {usage or 'no pod metrics'}")
