"""Kubernetes clusters and the checks that read them: workloads, jobs, policy, access.

Every check names a cluster from the environment's ``kubernetes:`` section (``cluster:``);
the cluster entry says how to reach its API: a kubeconfig (and context) or the in-cluster
service account. Checks only read (get, list, and access reviews, which change nothing).

Example::

    kubernetes:
      prod: {kubeconfig: ~/.kube/config, context: prod-eu}
    checks:
      aureus-pods:
        kind: k8s_pods
        cluster: prod
        namespace: aureus
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from plugins.schema.base import CheckSpec, Duration, StrictModel
from plugins.schema.registry import check_kind, section

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_OBJECT_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
# "verb resource[.group][/subresource]", as `kubectl auth can-i` takes it.
PERMISSION = re.compile(
    r"^(?P<verb>[a-z*]+) (?P<resource>[a-z0-9*-]+)(?:\.(?P<group>[a-z0-9.-]+))?"
    r"(?:/(?P<subresource>[a-z]+))?$"
)


@section("kubernetes")
class KubernetesCluster(StrictModel):
    """How to reach one cluster's API: ``kubeconfig`` (+ ``context``) or ``in_cluster``."""

    kubeconfig: str | None = Field(default=None, description="path to a kubeconfig file")
    context: str | None = Field(default=None, description="kubeconfig context (default: current)")
    in_cluster: bool = Field(default=False, description="use the pod's service account")
    timeout: float = Field(default=10.0, gt=0, le=120, description="seconds per API call")

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesCluster:
        if self.in_cluster == (self.kubeconfig is not None):
            raise ValueError("give exactly one of kubeconfig, in_cluster: true")
        if self.in_cluster and self.context is not None:
            raise ValueError("context needs a kubeconfig")
        return self


class ClusterCheck(CheckSpec):
    """Fields every Kubernetes check has: which cluster it reads."""

    cluster: str = Field(description="a name under kubernetes:")

    def references(self) -> list[tuple[str, str]]:
        return [("kubernetes", self.cluster)]

    def subject(self) -> str:
        return self.component or self.cluster


class NamespacedCheck(ClusterCheck):
    """A check on one namespace of a cluster."""

    namespace: str = Field(pattern=_DNS_LABEL)

    def observation_budget(self, timeout: float) -> float:
        return timeout * 3  # a list, and the namespace when the list is empty

    def subject(self) -> str:
        return self.component or self.namespace


class NamedObjectCheck(NamespacedCheck):
    """A check on one named object (an HPA, a CronJob) in a namespace."""

    name: str = Field(pattern=_OBJECT_NAME)

    def subject(self) -> str:
        return self.component or f"{self.namespace}/{self.name}"


@check_kind("k8s_version")
class K8sVersionCheck(ClusterCheck):
    """The API server's version (``kubectl version``) is at least ``minimum`` ("1.24")."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_version"
    kind: Literal["k8s_version"] = "k8s_version"
    minimum: str = Field(pattern=r"^\d+\.\d+$", description="major.minor, e.g. 1.24")


@check_kind("k8s_namespace")
class K8sNamespaceCheck(NamespacedCheck):
    """The namespace exists and is Active (not Terminating)."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_namespace"
    kind: Literal["k8s_namespace"] = "k8s_namespace"


@check_kind("k8s_deployments")
class K8sDeploymentsCheck(NamespacedCheck):
    """Deployments rolled out as ``kubectl rollout status`` means it, and fully available.

    ``names`` empty means every Deployment in the namespace. ``replicas`` pins the desired
    count (the runbook's baseline, or 0 for a deliberately stopped workload); ``env`` pins
    literal environment values of the pod template (``MAINTENANCE_MODE: "false"``).
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_deployments"
    kind: Literal["k8s_deployments"] = "k8s_deployments"
    names: list[str] = Field(default_factory=list)
    replicas: int | None = Field(default=None, ge=0)
    env: dict[str, str] = Field(default_factory=dict)

    def subject(self) -> str:
        if self.component is None and len(self.names) == 1:
            return f"{self.namespace}/{self.names[0]}"
        return super().subject()


@check_kind("k8s_pods")
class K8sPodsCheck(NamespacedCheck):
    """Pods Running and Ready (Completed job pods pass), or, with ``expect: absent``, gone.

    A pod fails when it crash-loops or cannot pull its image (at once), restarted more than
    ``max_restarts`` times, or stayed Pending or not Ready longer than ``pending_for``.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_pods"
    kind: Literal["k8s_pods"] = "k8s_pods"
    selector: str | None = Field(default=None, description="label selector, as kubectl -l")
    names: list[str] = Field(default_factory=list, description="exact pod names (postgres-0)")
    expect: Literal["running", "absent"] = "running"
    max_restarts: int | None = Field(default=None, ge=0)
    pending_for: Duration = "5m"
    ready: bool = True


@check_kind("k8s_services")
class K8sServicesCheck(NamespacedCheck):
    """Each named Service exists and has at least ``min_ready`` ready endpoints."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_services"
    kind: Literal["k8s_services"] = "k8s_services"
    names: list[str] = Field(min_length=1)
    min_ready: int = Field(default=1, ge=0)

    def observation_budget(self, timeout: float) -> float:
        return timeout * 4  # services, endpoints, and the namespace when there are none


@check_kind("k8s_hpa")
class K8sHpaCheck(NamedObjectCheck):
    """A HorizontalPodAutoscaler whose metrics resolve and whose replicas stay in bounds.

    ``target_utilization``, ``min_replicas`` and ``max_replicas`` pin the spec (the runbook's
    ``averageUtilization: 70``); an HPA at its maximum and still over target also fails.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_hpa"
    kind: Literal["k8s_hpa"] = "k8s_hpa"
    target_utilization: int | None = Field(default=None, ge=1, le=1000)
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)


@check_kind("k8s_cronjob")
class K8sCronJobCheck(NamedObjectCheck):
    """A CronJob that last succeeded within ``max_age``, with no failed Job since.

    ``schedule``, ``image`` and ``restart_policy`` pin its manifest.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_cronjob"
    kind: Literal["k8s_cronjob"] = "k8s_cronjob"
    max_age: Duration | None = None
    schedule: str | None = None
    image: str | None = None
    restart_policy: Literal["OnFailure", "Never"] | None = None

    def observation_budget(self, timeout: float) -> float:
        return timeout * 4  # cronjobs, jobs, and the namespace when there are none


@check_kind("k8s_nodes")
class K8sNodesCheck(ClusterCheck):
    """Nodes Ready, none under memory, disk or PID pressure, at least ``min_ready`` of them."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_nodes"
    kind: Literal["k8s_nodes"] = "k8s_nodes"
    selector: str | None = None
    min_ready: int = Field(default=1, ge=0)


@check_kind("k8s_secrets")
class K8sSecretsCheck(NamespacedCheck):
    """The named Secrets exist. Only their metadata is requested: values are never read."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_secrets"
    kind: Literal["k8s_secrets"] = "k8s_secrets"
    names: list[str] = Field(min_length=1)


class Reach(StrictModel):
    """Traffic the namespace's policies must allow: pods labelled ``source`` to ``target``."""

    source: dict[str, str] = Field(alias="from", min_length=1, description="source pod labels")
    target: dict[str, str] = Field(alias="to", min_length=1, description="target pod labels")
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class OnlyFrom(StrictModel):
    """Ingress to pods labelled ``to`` only from pods carrying one of the ``allowed`` label sets."""

    target: dict[str, str] = Field(alias="to", min_length=1, description="protected pod labels")
    allowed: list[dict[str, str]] = Field(min_length=1, description="label sets of callers")


@check_kind("k8s_network_policy")
class K8sNetworkPolicyCheck(NamespacedCheck):
    """NetworkPolicies: a default deny, named allow policies, and who may reach whom.

    Default deny: ``podSelector: {}``, ``Ingress`` among ``policyTypes``, no ingress rules.
    ``reach`` evaluates the policies statically (egress of the source pods, ingress of the
    target pods, same namespace) for pods with the given labels; ``only_from`` fails any
    ingress rule that admits pods other than the allowed callers (other namespaces, IP
    blocks, or a selector looser than every allowed label set). Whether the cluster's CNI
    enforces NetworkPolicies at all cannot be seen from the API.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_network_policies"
    kind: Literal["k8s_network_policy"] = "k8s_network_policy"
    default_deny: bool = True
    policies: list[str] = Field(default_factory=list, description="allow policies required")
    reach: list[Reach] = Field(
        default_factory=list, description="{from: labels, to: labels, port} that must be allowed"
    )
    only_from: list[OnlyFrom] = Field(
        default_factory=list, description="{to: labels, allowed: [labels]}: the only callers"
    )


@check_kind("k8s_access")
class K8sAccessCheck(NamespacedCheck):
    """What the cluster entry's identity may and may not do (SelfSubjectAccessReview).

    Permissions read as ``kubectl auth can-i`` takes them: ``"delete pods"``,
    ``"patch deployments.apps"``, ``"get pods/log"``. To check a service account, give it
    a cluster entry of its own (its kubeconfig or token).
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_access"
    kind: Literal["k8s_access"] = "k8s_access"
    allowed: list[str] = Field(default_factory=list)
    denied: list[str] = Field(default_factory=list)

    @field_validator("allowed", "denied")
    @classmethod
    def _permissions(cls, values: list[str]) -> list[str]:
        for value in values:
            if not PERMISSION.match(value):
                raise ValueError(
                    f"{value!r}: write 'verb resource[.group][/subresource]', "
                    "e.g. 'patch deployments.apps'"
                )
        return values

    def observation_budget(self, timeout: float) -> float:
        return timeout * (len(self.allowed) + len(self.denied) + 1)  # one review each

    @model_validator(mode="after")
    def _something(self) -> K8sAccessCheck:
        if not self.allowed and not self.denied:
            raise ValueError("give allowed and/or denied permissions")
        return self


@check_kind("k8s_secret_freshness")
class K8sSecretFreshnessCheck(NamespacedCheck):
    """Pods selected by ``selector`` started after the Secret's last update (rotation picked up).

    The last update is the newest ``managedFields`` time of the Secret's metadata, or the
    ``annotation`` when one is named (an RFC 3339 time a rotation job writes). Only metadata
    is requested; values are never read.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_secret_freshness"
    kind: Literal["k8s_secret_freshness"] = "k8s_secret_freshness"
    secret: str = Field(pattern=_OBJECT_NAME)
    selector: str = Field(min_length=1, description="label selector of the pods using it")
    annotation: str | None = None


@check_kind("k8s_secret_refs")
class K8sSecretRefsCheck(NamespacedCheck):
    """How environment variables holding secrets are wired, read from references only.

    ``same_source``: each named Deployment takes ``variable`` from the same Secret name and
    key (``secretKeyRef``, or ``envFrom`` of a Secret, which is taken to hold the key).
    ``no_literals``: none of ``variables`` is set as a literal ``value:`` in any Deployment,
    StatefulSet, CronJob or Pod of the namespace, nor is a key of a ConfigMap there. Values
    are never compared or reported: a secret pasted under another name, or into logs, is
    outside what this check can see.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_secret_refs"
    kind: Literal["k8s_secret_refs"] = "k8s_secret_refs"
    variables: list[str] = Field(min_length=1)
    same_source: list[str] = Field(default_factory=list, description="deployments to compare")
    no_literals: bool = True

    def observation_budget(self, timeout: float) -> float:
        return timeout * 6  # deployments, statefulsets, cronjobs, pods, configmaps, namespace

    @model_validator(mode="after")
    def _something(self) -> K8sSecretRefsCheck:
        if not self.same_source and not self.no_literals:
            raise ValueError("give same_source deployments and/or no_literals: true")
        return self


@check_kind("k8s_pvcs")
class K8sPvcsCheck(NamespacedCheck):
    """PersistentVolumeClaims Bound, with a known capacity of at least ``min_capacity``.

    How full the volume is cannot be read from the API (kubelet volume stats are metrics).
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_pvcs"
    kind: Literal["k8s_pvcs"] = "k8s_pvcs"
    names: list[str] = Field(min_length=1)
    min_capacity: str | None = Field(default=None, description="a quantity: 10Gi")


@check_kind("k8s_job_logs")
class K8sJobLogsCheck(NamedObjectCheck):
    """The newest Job of the CronJob ``name``: its pods' logs, searched for error lines.

    Jobs a CronJob creates are named ``<cronjob>-<minutes>``, so they are found by owner,
    not by ``job-name=<cronjob>``. ``informational`` reports the lines without failing.
    """

    probe: ClassVar[str] = "fixtures.kubernetes:probe_job_logs"
    kind: Literal["k8s_job_logs"] = "k8s_job_logs"
    patterns: list[str] = Field(
        default_factory=lambda: [r"(?i)\b(error|fatal|panic)\b", r"(?i)command not found"]
    )
    tail_lines: int = Field(default=500, ge=1, le=10000)
    informational: bool = False

    def observation_budget(self, timeout: float) -> float:
        return timeout * 5  # jobs, pods, and a log or two


@check_kind("k8s_image_drift")
class K8sImageDriftCheck(NamespacedCheck):
    """Deployments in ``namespace`` and ``compare_namespace`` run the same container images."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_image_drift"
    kind: Literal["k8s_image_drift"] = "k8s_image_drift"
    compare_namespace: str = Field(pattern=_DNS_LABEL)
    names: list[str] = Field(default_factory=list, description="deployments (all when empty)")


@check_kind("k8s_top_pods")
class K8sTopPodsCheck(NamespacedCheck):
    """CPU and memory per pod from metrics.k8s.io, as ``kubectl top pods``; informational."""

    probe: ClassVar[str] = "fixtures.kubernetes:probe_top_pods"
    kind: Literal["k8s_top_pods"] = "k8s_top_pods"
    selector: str | None = None
