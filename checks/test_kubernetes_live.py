"""Real-cluster mode: the Kubernetes checks against whatever cluster a kubeconfig names.

    VIGIL_KUBECONFIG=~/.kube/config VIGIL_KUBE_CONTEXT=staging pytest -m live_k8s --env demo

The same probes and judges as checks/test_kubernetes.py, on what every cluster has: the
API answering, nodes Ready, kube-system's pods and deployments healthy (another namespace
with ``VIGIL_KUBE_NAMESPACE``), and the identity able to read. Without ``VIGIL_KUBECONFIG``
every test skips, saying so. Read-only, like every check; each call has the timeout
``VIGIL_KUBE_TIMEOUT`` (10 s).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from checks.test_kubernetes import (
    judge_access,
    judge_deployments,
    judge_namespace,
    judge_nodes,
    judge_pods,
)
from fixtures.http import HttpClient
from fixtures.kubernetes import (
    probe_access,
    probe_deployments,
    probe_namespace,
    probe_nodes,
    probe_pods,
)
from fixtures.observe import Observer
from fixtures.probes import ProbeContext
from plugins.schema import Environment
from plugins.schema.kubernetes import (
    K8sAccessCheck,
    K8sDeploymentsCheck,
    K8sNamespaceCheck,
    K8sNodesCheck,
    K8sPodsCheck,
    KubernetesCluster,
)

pytestmark = pytest.mark.live_k8s

CLUSTER = "live"
NO_KUBECONFIG = "no kubeconfig given (set VIGIL_KUBECONFIG)"
# The namespace whose workloads every cluster runs; another with VIGIL_KUBE_NAMESPACE.
NAMESPACE = os.environ.get("VIGIL_KUBE_NAMESPACE", "kube-system")


@pytest.fixture(scope="module")
def live() -> Iterator[ProbeContext]:
    """A probe context whose only cluster entry, ``live``, is the given kubeconfig."""
    kubeconfig = os.environ.get("VIGIL_KUBECONFIG", "")
    if not kubeconfig:
        pytest.skip(NO_KUBECONFIG)
    cluster: dict[str, Any] = {
        "kubeconfig": kubeconfig,
        "timeout": float(os.environ.get("VIGIL_KUBE_TIMEOUT", "10")),
    }
    if os.environ.get("VIGIL_KUBE_CONTEXT"):
        cluster["context"] = os.environ["VIGIL_KUBE_CONTEXT"]
    env = Environment.model_validate({"name": "live-k8s", "kubernetes": {CLUSTER: cluster}})
    observer = Observer()
    yield ProbeContext(env=env, observer=observer, http=HttpClient({}))
    observer.close()


def observed(live: ProbeContext, probe: Callable[[], Awaitable[Any]], calls: int = 3) -> Any:
    """Run one probe on the context's loop, bounded like a configured check."""
    __tracebackhide__ = True
    timeout = live.env.section("kubernetes", KubernetesCluster)[CLUSTER].timeout
    return live.observer.call(probe, timeout=timeout * calls)


def test_live_api_answers(live: ProbeContext) -> None:
    check = K8sNamespaceCheck(cluster=CLUSTER, namespace=NAMESPACE)
    judge_namespace(check, observed(live, lambda: probe_namespace(check, live)))


def test_live_nodes_ready(live: ProbeContext) -> None:
    check = K8sNodesCheck(cluster=CLUSTER, min_ready=1)
    judge_nodes(check, observed(live, lambda: probe_nodes(check, live)))


def test_live_system_pods_running(live: ProbeContext) -> None:
    check = K8sPodsCheck(cluster=CLUSTER, namespace=NAMESPACE, max_restarts=10)
    judge_pods(check, observed(live, lambda: probe_pods(check, live)))


def test_live_system_deployments_rolled_out(live: ProbeContext) -> None:
    check = K8sDeploymentsCheck(cluster=CLUSTER, namespace=NAMESPACE)
    judge_deployments(check, observed(live, lambda: probe_deployments(check, live)))


def test_live_identity_can_read(live: ProbeContext) -> None:
    check = K8sAccessCheck(
        cluster=CLUSTER,
        namespace=NAMESPACE,
        allowed=["list pods", "list deployments.apps", "list nodes"],
    )
    judge_access(check, observed(live, lambda: probe_access(check, live), calls=4))
