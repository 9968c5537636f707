"""Kubernetes checks end to end, through the official ``kubernetes`` client.

The Kubernetes API here is a simulation (testbed.k8s): an HTTPS server on loopback that
speaks the API server's real wire protocol (bearer tokens, Status bodies, metadata-only
lists, access reviews), one per scenario: healthy, crashloop, rollout-stuck,
cronjob-missed, plus fault switches (500, 429, a hung API) and a rejected token. Vigil
runs as a user would, in a subprocess, against all of them at once.
"""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from testbed.k8s import K8sApiServer, start_k8s_api
from testbed.k8s.scenario import SCENARIO_DIR
from tests.support import ROOT, VigilRun, run_vigil

SCENARIOS = ("healthy", "crashloop", "rollout-stuck", "cronjob-missed")
# Secret values the simulated cluster holds; none may reach any output.
SECRET_VALUES = ("sim-7Qm2Lx9Vb4", "sim-c8a1f0e4b7d2", "sim-4f7a2c9e1b3d5f60", "sim-Aur3usPgPw")
HANG_TIMEOUT = 1.0
EXPIRED_TOKEN = "tok-5f3a9c1e-revoked"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, K8sApiServer]]:
    started = {name: start_k8s_api(name) for name in SCENARIOS}
    started.update(faulty=start_k8s_api("healthy"), hanging=start_k8s_api("healthy"))
    started["drifted"] = start_k8s_api(drifted_scenario())
    started["drifted"].set_fault("/apis/metrics.k8s.io", 503)
    started["faulty"].set_fault("/apis/apps/v1", 500)
    started["faulty"].set_fault("/apis/autoscaling/v2", 429)
    started["hanging"].set_fault("/api/v1/namespaces/aegis/pods", "hang")
    yield started
    for server in started.values():
        server.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_kubeconfig(server: K8sApiServer, path: Path) -> Path:
    """A kubeconfig for a port nobody listens on."""
    server.write_kubeconfig(path)
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"
    path.write_text(yaml.safe_dump(config))
    return path


def clusters(servers: dict[str, K8sApiServer], directory: Path) -> dict[str, Any]:
    healthy = servers["healthy"]
    entries: dict[str, Any] = {
        name: {"kubeconfig": str(server.write_kubeconfig(directory / f"{name}.kubeconfig"))}
        for name, server in servers.items()
    }
    entries["hanging"]["timeout"] = HANG_TIMEOUT
    expired = healthy.write_kubeconfig(directory / "expired.kubeconfig", token=EXPIRED_TOKEN)
    executor = healthy.issue_token("system:serviceaccount:aegis:executor")
    entries["expired"] = {"kubeconfig": str(expired)}
    entries["executor"] = {
        "kubeconfig": str(healthy.write_kubeconfig(directory / "sa.kubeconfig", token=executor))
    }
    entries["gone"] = {
        "kubeconfig": str(unreachable_kubeconfig(healthy, directory / "gone.kubeconfig")),
        "timeout": 2,
    }
    return entries


def every_kind(cluster: str) -> dict[str, dict[str, Any]]:
    """One entry of each kind, as the demo writes them, against ``cluster``."""
    on = {"cluster": cluster}
    return {
        f"{cluster}-namespace": {"kind": "k8s_namespace", **on, "namespace": "aegis"},
        f"{cluster}-aegis-pods": {
            "kind": "k8s_pods",
            **on,
            "namespace": "aegis",
            "max_restarts": 5,
            "severity": "P0",
        },
        f"{cluster}-aureus-rollout": {
            "kind": "k8s_deployments",
            **on,
            "namespace": "aureus",
            "names": ["bridge", "aureus-os", "openclaw"],
        },
        f"{cluster}-aegis-rollout": {"kind": "k8s_deployments", **on, "namespace": "aegis"},
        f"{cluster}-services": {
            "kind": "k8s_services",
            **on,
            "namespace": "aegis",
            "names": ["backend", "frontend", "ai-engine", "executor"],
        },
        f"{cluster}-hpa": {
            "kind": "k8s_hpa",
            **on,
            "namespace": "aureus",
            "name": "aureus-os-hpa",
            "target_utilization": 70,
        },
        f"{cluster}-backup": {
            "kind": "k8s_cronjob",
            **on,
            "namespace": "aureus",
            "name": "postgres-backup",
            "max_age": "26h",
            "schedule": "0 2 * * *",
            "image": "postgres:15",
            "restart_policy": "OnFailure",
        },
        f"{cluster}-nodes": {"kind": "k8s_nodes", **on, "min_ready": 3},
        f"{cluster}-secrets": {
            "kind": "k8s_secrets",
            **on,
            "namespace": "aegis",
            "names": ["aegis-backend-secrets", "aegis-ai-engine-secrets"],
        },
        f"{cluster}-netpol": {
            "kind": "k8s_network_policy",
            **on,
            "namespace": "aegis",
            "policies": ["allow-backend-to-postgres"],
        },
    }


HEALTHY = yaml.safe_load((SCENARIO_DIR / "healthy.yaml").read_text(encoding="utf-8"))
BACKUP_POD_LOG = "aureus/postgres-backup-{unix_minutes:last 02:00}-7kq2p"
LEAKED_HMAC = "sim-leaked-hmac-31f9"


def healthy_object(kind: str, namespace: str, name: str) -> dict[str, Any]:
    """A deep copy of one object of the bundled healthy scenario, to alter for a fault."""
    for obj in HEALTHY["objects"]:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta.get("namespace") == namespace and meta["name"] == name:
            return copy.deepcopy(obj)
    raise LookupError(f"{kind} {namespace}/{name} not in the healthy scenario")


def drifted_scenario() -> dict[str, Any]:
    """The healthy cluster with one configuration fault per configuration check."""
    executor = healthy_object("Deployment", "aegis", "executor")
    container = executor["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {
            "name": "EXECUTOR_HMAC_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "aegis-executor-secrets", "key": "HMAC"}},
        }
    ]
    backend = healthy_object("Deployment", "aegis", "backend")
    backend["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "JWT_SECRET", "value": LEAKED_HMAC}
    )
    secret = healthy_object("Secret", "aegis", "aegis-backend-secrets")
    secret["metadata"]["managedFields"][-1]["time"] = "-1h"  # rotated after the pods started
    to_executor = healthy_object("NetworkPolicy", "aegis", "allow-backend-to-executor")
    to_executor["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})
    claim = healthy_object("PersistentVolumeClaim", "aegis", "data-postgres-0")
    claim["status"] = {"phase": "Pending"}
    staging = healthy_object("Deployment", "aureus-staging", "bridge")
    staging["spec"]["template"]["spec"]["containers"][0]["image"] = "aureus/bridge:2.2.9"
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "executor-extra", "namespace": "aegis"},
        "data": {"EXECUTOR_HMAC_SECRET": LEAKED_HMAC},
    }
    log = (
        "pg_dumpall: dumping 3 databases\n"
        "/bin/bash: line 3: aws: command not found\n"
        "ERROR: upload to postgres://backup:hunter2pw@db:5432 failed\n"
    )
    return {
        "extends": "healthy",
        "remove": [healthy_object("NetworkPolicy", "aegis", "allow-backend-to-postgres")],
        "objects": [executor, backend, secret, to_executor, claim, staging, config],
        "podLogs": {BACKUP_POD_LOG: log},
    }


def config_checks(cluster: str) -> dict[str, dict[str, Any]]:
    """The configuration checks of the demo (policies, secrets, PVCs, logs, drift, usage)."""
    on = {"cluster": cluster}
    aegis = {**on, "namespace": "aegis"}
    return {
        f"{cluster}-reach": {
            "kind": "k8s_network_policy",
            **aegis,
            "default_deny": False,
            "reach": [
                {
                    "from": {"app.kubernetes.io/name": "backend"},
                    "to": {"app.kubernetes.io/name": "postgres"},
                    "port": 5432,
                }
            ],
        },
        f"{cluster}-callers": {
            "kind": "k8s_network_policy",
            **aegis,
            "default_deny": False,
            "only_from": [
                {
                    "to": {"app.kubernetes.io/name": "executor"},
                    "allowed": [{"app.kubernetes.io/name": "backend"}],
                }
            ],
        },
        f"{cluster}-rotation": {
            "kind": "k8s_secret_freshness",
            **aegis,
            "secret": "aegis-backend-secrets",
            "selector": "app.kubernetes.io/name=backend",
        },
        f"{cluster}-hmac-same": {
            "kind": "k8s_secret_refs",
            **aegis,
            "variables": ["EXECUTOR_HMAC_SECRET"],
            "same_source": ["backend", "executor"],
            "no_literals": False,
        },
        f"{cluster}-hmac-exposed": {
            "kind": "k8s_secret_refs",
            **aegis,
            "variables": ["EXECUTOR_HMAC_SECRET", "JWT_SECRET"],
        },
        f"{cluster}-pvc": {"kind": "k8s_pvcs", **aegis, "names": ["data-postgres-0"]},
        f"{cluster}-backup-logs": {
            "kind": "k8s_job_logs",
            **on,
            "namespace": "aureus",
            "name": "postgres-backup",
        },
        f"{cluster}-staging": {
            "kind": "k8s_image_drift",
            **on,
            "namespace": "aureus",
            "compare_namespace": "aureus-staging",
            "names": ["bridge", "aureus-os", "openclaw"],
        },
        f"{cluster}-top": {"kind": "k8s_top_pods", **on, "namespace": "aureus"},
    }


class Finished(NamedTuple):
    """One Vigil run over every cluster: its results, wall time and report directory."""

    vigil: VigilRun
    seconds: float
    directory: Path


@pytest.fixture(scope="module")
def run(servers: dict[str, K8sApiServer], tmp_path_factory: pytest.TempPathFactory) -> Finished:
    directory = tmp_path_factory.mktemp("k8s")
    checks: dict[str, Any] = {}
    for name in (*SCENARIOS, "faulty"):
        checks.update(every_kind(name))
    checks.update(config_checks("healthy"))
    checks.update(config_checks("drifted"))
    checks.update(
        {
            "executor-rbac": {
                "kind": "k8s_access",
                "cluster": "executor",
                "namespace": "aegis",
                "allowed": ["get pods", "delete pods", "patch deployments.apps"],
                "denied": ["delete deployments.apps", "get secrets", "create pods/exec"],
            },
            "executor-rbac-wrong": {
                "kind": "k8s_access",
                "cluster": "executor",
                "namespace": "aegis",
                "allowed": ["create secrets"],
                "denied": ["delete pods"],
            },
            "executor-scaled-to-zero": {
                "kind": "k8s_deployments",
                "cluster": "healthy",
                "namespace": "aegis",
                "names": ["executor"],
                "replicas": 0,
            },
            "executor-pods-gone": {
                "kind": "k8s_pods",
                "cluster": "healthy",
                "namespace": "aegis",
                "selector": "app.kubernetes.io/name=executor",
                "expect": "absent",
            },
            "missing-namespace": {"kind": "k8s_pods", "cluster": "healthy", "namespace": "nope"},
            "missing-hpa": {
                "kind": "k8s_hpa",
                "cluster": "healthy",
                "namespace": "aureus",
                "name": "nope",
            },
            "expired-token": {"kind": "k8s_pods", "cluster": "expired", "namespace": "aegis"},
            "hung-api": {"kind": "k8s_pods", "cluster": "hanging", "namespace": "aegis"},
            "hung-api-other-path": {
                "kind": "k8s_namespace",
                "cluster": "hanging",
                "namespace": "aegis",
            },
            "unreachable": {"kind": "k8s_namespace", "cluster": "gone", "namespace": "aegis"},
        }
    )
    env = {"name": "k8s-test", "kubernetes": clusters(servers, directory), "checks": checks}
    started = time.monotonic()
    result = run_vigil(directory, env, "checks/test_kubernetes.py")
    return Finished(result, time.monotonic() - started, directory)


def outcome(run: Finished, check: str) -> tuple[str, str, str]:
    entry = run.vigil.result(check)
    return entry["outcome"], entry["severity"], entry["message"]


@pytest.mark.parametrize("check", sorted(every_kind("healthy")))
def test_healthy_cluster_passes_every_kind(run: Finished, check: str) -> None:
    assert run.vigil.result(check)["outcome"] == "passed", run.vigil.output[-3000:]


def test_crashloop_names_the_pod_and_its_restarts(run: Finished) -> None:
    state, severity, message = outcome(run, "crashloop-aegis-pods")
    assert (state, severity) == ("failed", "critical")
    assert "backend-6b8f9c7d5-m7h4p: CrashLoopBackOff (container backend)" in message
    assert "restarted 14 times (> 5)" in message and "last exit 1 (Error)" in message
    assert "1 of 8 unhealthy" in message
    state, _, message = outcome(run, "crashloop-aegis-rollout")
    assert state == "failed"
    assert message == "deployment aegis/backend: 1 of 2 replicas available"
    assert outcome(run, "crashloop-aureus-rollout")[0] == "passed"


def test_stuck_rollout_names_progress_deadline_exceeded(run: Finished) -> None:
    state, severity, message = outcome(run, "rollout-stuck-aureus-rollout")
    assert (state, severity) == ("failed", "high")
    assert message.startswith("deployment aureus/bridge: rollout stuck: ProgressDeadlineExceeded")
    assert "1 of 3 new replicas updated" in message
    assert "3 old replicas pending termination" in message
    _, _, pods = outcome(run, "rollout-stuck-aegis-pods")
    assert outcome(run, "rollout-stuck-aegis-pods")[0] == "passed", pods


def test_missed_backup_gives_the_last_success_age(run: Finished) -> None:
    state, _, message = outcome(run, "cronjob-missed-backup")
    assert state == "failed"
    assert message.startswith("cronjob aureus/postgres-backup: last successful run 2d ")
    assert "> 26h" in message
    assert "2 jobs failed since: postgres-backup-" in message
    assert "BackoffLimitExceeded" in message


def test_expired_token_is_an_error(run: Finished) -> None:
    state, _, message = outcome(run, "expired-token")
    assert state == "error"
    assert "kubernetes expired: unauthorized: credentials rejected (HTTP 401" in message
    assert EXPIRED_TOKEN not in run.vigil.output


def test_server_errors_are_errors_and_other_checks_still_run(
    run: Finished,
) -> None:
    state, _, message = outcome(run, "faulty-aureus-rollout")
    assert state == "error"
    assert "kubernetes faulty: API server error: HTTP 500" in message
    state, _, message = outcome(run, "faulty-hpa")
    assert state == "error"
    assert "throttled: HTTP 429 Too Many Requests, retry after 1s" in message
    for unaffected in ("faulty-aegis-pods", "faulty-services", "faulty-backup", "faulty-nodes"):
        assert outcome(run, unaffected)[0] == "passed", unaffected


def test_hung_api_errors_within_the_timeout(run: Finished) -> None:
    state, _, message = outcome(run, "hung-api")
    assert state == "error"
    assert message.endswith(f"no answer within {HANG_TIMEOUT:g}s (API server hung or overloaded)")
    assert outcome(run, "hung-api-other-path")[0] == "passed"
    assert run.seconds < 60


def test_unreachable_cluster_is_an_error(run: Finished) -> None:
    state, _, message = outcome(run, "unreachable")
    assert state == "error"
    assert message.endswith("kubernetes gone: unreachable: connection refused")


def test_missing_objects_fail_and_say_what_is_missing(run: Finished) -> None:
    assert outcome(run, "missing-namespace")[1:] == (
        "high",
        "namespace nope does not exist in cluster healthy",
    )
    assert outcome(run, "missing-namespace")[0] == "failed"
    assert outcome(run, "missing-hpa")[::2] == ("failed", "hpa aureus/nope not found")


def test_access_reviews_judge_allowed_and_denied(run: Finished) -> None:
    assert outcome(run, "executor-rbac")[0] == "passed"
    state, _, message = outcome(run, "executor-rbac-wrong")
    assert state == "failed"
    assert "cannot create secrets (expected allowed)" in message
    assert 'can delete pods (expected denied; RBAC: allowed by RoleBinding "aegis/executor"' in (
        message
    )


def test_stopped_executor_checks_fail_while_it_runs(run: Finished) -> None:
    assert outcome(run, "executor-scaled-to-zero")[::2] == (
        "failed",
        "deployment aegis/executor: 1 replica desired, expected 0",
    )
    state, _, message = outcome(run, "executor-pods-gone")
    assert state == "failed"
    assert "1 still present, expected none: executor-6c7d8e9f5-p3j6s Running" in message


def test_no_secret_value_or_token_reaches_the_output(
    run: Finished, servers: dict[str, K8sApiServer]
) -> None:
    written = (run.directory / "reports").rglob("*")
    reports = [p.read_text(errors="replace") for p in written if p.is_file()]
    texts = [run.vigil.output, *reports]
    assert len(texts) > 2
    tokens = [server.token for server in servers.values()] + [EXPIRED_TOKEN]
    for secret in (*SECRET_VALUES, *tokens):
        assert not any(secret in text for text in texts), secret


# --- the demo's parts, started by their testbed parts --------------------------------------


def demo_env(directory: Path, *parts: str) -> Path:
    env = {
        "name": "demo-k8s",
        "extends": [str(ROOT / "environments" / "parts" / part) for part in parts],
        "testbed": {"start": ["k8s"]},
    }
    path = directory / "demo-k8s.yaml"
    path.write_text(yaml.safe_dump(env, sort_keys=False))
    return path


def test_demo_part_passes_daily(tmp_path: Path) -> None:
    result = run_vigil(
        tmp_path,
        demo_env(tmp_path, "demo-kubernetes.yaml"),
        "checks/test_kubernetes.py",
        "-m",
        "daily",
    )
    outcomes = result.outcomes()
    assert outcomes and set(outcomes.values()) == {"passed"}, result.output[-3000:]
    assert {"aureus-backup-last-night", "aureus-pods-healthy", "aureus-os-hpa"} <= set(outcomes)


def test_degraded_demo_part_shows_the_crash_loop(tmp_path: Path) -> None:
    env = demo_env(tmp_path, "demo-kubernetes.yaml", "demo-degraded-kubernetes.yaml")
    result = run_vigil(tmp_path, env, "checks/test_kubernetes.py", "-m", "daily")
    failed = {name for name, state in result.outcomes().items() if state != "passed"}
    assert failed == {"aegis-backend-pods", "aegis-deployments-rolled-out"}, result.output[-3000:]
    assert "CrashLoopBackOff" in result.result("aegis-backend-pods")["message"]


# --- real-cluster mode (checks/test_kubernetes_live.py, -m live_k8s) -------------------------


def test_live_mode_skips_without_a_kubeconfig(tmp_path: Path) -> None:
    result = run_vigil(
        tmp_path,
        {"name": "live"},
        "checks/test_kubernetes_live.py",
        "-m",
        "live_k8s",
        "-rs",
        extra_env={"VIGIL_KUBECONFIG": ""},
    )
    assert "5 skipped" in result.output, result.output[-3000:]
    assert "no kubeconfig given (set VIGIL_KUBECONFIG)" in result.output


def test_live_mode_runs_the_same_checks_on_a_given_cluster(
    servers: dict[str, K8sApiServer], tmp_path: Path
) -> None:
    kubeconfig = servers["crashloop"].write_kubeconfig(tmp_path / "live.kubeconfig")
    result = run_vigil(
        tmp_path,
        {"name": "live"},
        "checks/test_kubernetes_live.py",
        "-m",
        "live_k8s",
        extra_env={"VIGIL_KUBECONFIG": str(kubeconfig), "VIGIL_KUBE_NAMESPACE": "aegis"},
    )
    assert "2 failed, 3 passed" in result.output, result.output[-3000:]
    assert "backend-6b8f9c7d5-m7h4p: CrashLoopBackOff" in result.output
    assert "deployment aegis/backend: 1 of 2 replicas available" in result.output


@pytest.mark.parametrize("check", sorted(config_checks("healthy")))
def test_healthy_cluster_passes_configuration_checks(run: Finished, check: str) -> None:
    assert run.vigil.result(check)["outcome"] == "passed", run.vigil.output[-3000:]


def test_informational_checks_report_what_they_read(run: Finished) -> None:
    message = run.vigil.result("healthy-top")["message"]
    assert message.startswith("informational: aureus-os-85c6d7b9f-2r6tn cpu 310m mem 600Mi")
    assert "postgres-0 cpu 240m mem 1200Mi" in message
    message = run.vigil.result("healthy-backup-logs")["message"]
    assert message.startswith("Job postgres-backup-") and "no error lines in 1 pod logs" in message


def test_network_policy_faults_name_the_policy_and_the_path(run: Finished) -> None:
    state, severity, message = outcome(run, "drifted-reach")
    assert (state, severity) == ("failed", "high")
    assert (
        "app.kubernetes.io/name=backend -> app.kubernetes.io/name=postgres port 5432/TCP "
        "not allowed: ingress denied by default-deny-all (no rule admits it)"
    ) in message
    state, _, message = outcome(run, "drifted-callers")
    assert state == "failed"
    assert "allow-backend-to-executor rule 1 admits pods of other namespaces" in message


def test_secret_faults_name_references_never_values(run: Finished) -> None:
    state, _, message = outcome(run, "drifted-rotation")
    assert state == "failed"
    assert "2/2 pods started before secret aegis/aegis-backend-secrets was last updated" in message
    assert "by kubectl-patch" in message and "kubectl rollout restart" in message
    state, _, message = outcome(run, "drifted-hmac-same")
    assert state == "failed"
    assert "EXECUTOR_HMAC_SECRET comes from different sources" in message
    assert "backend: secret aegis-executor-hmac key EXECUTOR_HMAC_SECRET" in message
    assert "executor: secret aegis-executor-secrets key HMAC" in message
    state, _, message = outcome(run, "drifted-hmac-exposed")
    assert state == "failed"
    assert "Deployment/backend container backend: JWT_SECRET" in message
    assert "ConfigMap/executor-extra key EXECUTOR_HMAC_SECRET" in message
    assert LEAKED_HMAC not in run.vigil.output
    assert "sim-hm4c-9f2e7d1c" not in run.vigil.output


def test_pvc_logs_and_drift_faults_fail_with_the_finding(run: Finished) -> None:
    state, _, message = outcome(run, "drifted-pvc")
    assert state == "failed"
    assert message == "PVCs in aegis: data-postgres-0 is Pending (requested 20Gi)"
    state, _, message = outcome(run, "drifted-backup-logs")
    assert state == "failed"
    assert "2 error lines" in message and "aws: command not found" in message
    assert "hunter2pw" not in run.vigil.output and "postgres://***:***@db" in message
    state, _, message = outcome(run, "drifted-staging")
    assert state == "failed"
    assert message == (
        "images differ between aureus and aureus-staging: bridge: aureus "
        "bridge=aureus/bridge:2.3.1 vs aureus-staging bridge=aureus/bridge:2.2.9"
    )


def test_missing_metrics_api_is_an_error(run: Finished) -> None:
    state, _, message = outcome(run, "drifted-top")
    assert state == "error"
    assert "metrics.k8s.io not served (HTTP 503; metrics-server missing?)" in message
