"""The resource types the simulated API serves, and how request paths map onto them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    """One served resource: its group/version, plural path segment, kind and scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    extra_fields: frozenset[str] = frozenset()

    @property
    def api_version(self) -> str:
        """Return ``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def selectable_fields(self) -> frozenset[str]:
        """Return the field labels a fieldSelector may use on this resource."""
        return _COMMON_FIELDS | self.extra_fields


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, frozenset({"status.phase"})),
    ResourceType("", "v1", "nodes", "Node", False, frozenset({"spec.unschedulable"})),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        frozenset(
            {
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            }
        ),
    ),
    ResourceType("", "v1", "services", "Service", True),
    ResourceType("", "v1", "endpoints", "Endpoints", True),
    ResourceType("", "v1", "secrets", "Secret", True, frozenset({"type"})),
    ResourceType("", "v1", "configmaps", "ConfigMap", True),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ResourceType(
        "",
        "v1",
        "events",
        "Event",
        True,
        frozenset(
            {
                "involvedObject.kind",
                "involvedObject.name",
                "involvedObject.namespace",
                "involvedObject.uid",
                "reason",
                "type",
            }
        ),
    ),
    ResourceType("apps", "v1", "deployments", "Deployment", True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True),
    ResourceType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True),
    ResourceType("batch", "v1", "jobs", "Job", True, frozenset({"status.successful"})),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    # metrics-server's aggregated API, as `kubectl top pods` reads it.
    ResourceType("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCE_TYPES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCE_TYPES}

#: Served subresources of a single object; "status" returns the object itself.
SUBRESOURCES = frozenset({"status", "log"})


def resource_for_kind(api_version: str, kind: str) -> ResourceType:
    """Return the resource type for a manifest's ``apiVersion`` and ``kind``."""
    try:
        return _BY_KIND[(api_version, kind)]
    except KeyError:
        raise ValueError(f"the simulation does not serve {api_version} {kind}") from None


@dataclass(frozen=True)
class ResourceRequest:
    """A parsed resource path: what to read, where, and which object if any."""

    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_resource_path(path: str) -> ResourceRequest | None:
    """Map ``/api/v1/...`` or ``/apis/GROUP/VERSION/...`` onto a served resource.

    Returns None when the path names no served resource (the caller answers 404).
    """
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    # /namespaces/{ns}/{plural}... is a namespaced path; /namespaces[/{name}] is the
    # cluster-scoped Namespace resource itself.
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = _BY_PATH.get((group, version, rest[0]))
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and subresource not in SUBRESOURCES:
        return None
    if subresource == "log" and resource.plural != "pods":
        return None
    return ResourceRequest(resource, namespace, name, subresource)
