"""Scenario fixtures for the simulated Kubernetes API: load, inherit, resolve, complete.

A scenario file (``scenarios/NAME.yaml``) holds full manifests as the API returns them
(``objects``), an RBAC table per user (``access``), optional pod logs (``podLogs``,
keyed ``namespace/pod``) and an optional ``version`` override. ``extends: other`` starts
from another scenario; objects with the same apiVersion, kind, namespace and name replace
the inherited ones and ``remove`` drops some. Timestamps may be relative (see
:mod:`testbed.k8s.timeexpr`). What a controller would fill in (uids, resourceVersions,
Endpoints of Services with a selector, owner uids, Secret ``data`` from ``stringData``)
is completed at load.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testbed.k8s.access import AccessRule, parse_access_table
from testbed.k8s.resources import resource_for_kind
from testbed.k8s.timeexpr import expand_templates, format_rfc3339, is_time_expression, resolve_time

logger = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).parent / "scenarios"
_UID_NAMESPACE = uuid.UUID("6f1c1f0e-3b7a-4c1e-9a55-7a1d2f3e4b5c")
_TIME_KEY_SUFFIXES = ("Time", "Timestamp", "At", "-timestamp")
# managedFields[].time and PodMetrics.timestamp are lower-case, whole-word time keys.
_TIME_KEYS = frozenset({"time", "timestamp"})
_MAX_EXTENDS_DEPTH = 8

DEFAULT_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.4",
    "gitCommit": "55019c83b0fd51ef4ced8c29eec2c4847f896e74",
    "gitTreeState": "clean",
    "buildDate": "2024-04-16T15:03:16Z",
    "goVersion": "go1.21.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}

ObjectKey = tuple[str, str, str, str]


class ScenarioError(ValueError):
    """A scenario fixture that cannot be loaded (named, with the reason)."""


@dataclass(frozen=True)
class Scenario:
    """A resolved cluster state, ready to serve."""

    name: str
    objects: tuple[dict[str, Any], ...]
    access: Mapping[str, tuple[AccessRule, ...]]
    version: Mapping[str, str]
    pod_logs: Mapping[str, str] = field(default_factory=dict)


def available_scenarios() -> list[str]:
    """Return the names of the bundled scenario files."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def _read_document(name: str) -> dict[str, Any]:
    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ScenarioError(
            f"no Kubernetes scenario named {name!r}; available: {available_scenarios()}"
        )
    # libyaml's loader when present (faster); both are safe loaders.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if not isinstance(document, dict):
        raise ScenarioError(f"{path.name}: top level must be a mapping")
    return document


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    """Identity of a manifest: apiVersion, kind, namespace ('' if cluster-scoped), name."""
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def _merged_document(document: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    parent_name = document.get("extends")
    if not parent_name:
        return dict(document)
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"scenario inheritance deeper than {_MAX_EXTENDS_DEPTH} levels")
    parent = _merged_document(_read_document(str(parent_name)), depth + 1)
    objects = {object_key(obj): obj for obj in parent.get("objects") or ()}
    for removal in document.get("remove") or ():
        objects.pop(object_key(removal), None)
    for obj in document.get("objects") or ():
        objects[object_key(obj)] = obj
    return {
        "objects": list(objects.values()),
        "access": {**(parent.get("access") or {}), **(document.get("access") or {})},
        "podLogs": {**(parent.get("podLogs") or {}), **(document.get("podLogs") or {})},
        "version": {**(parent.get("version") or {}), **(document.get("version") or {})},
    }


def _resolve_times(node: Any, now: dt.datetime, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _resolve_times(v, now, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_times(item, now, key) for item in node]
    if isinstance(node, str):
        timed = key.endswith(_TIME_KEY_SUFFIXES) or key in _TIME_KEYS
        if timed and is_time_expression(node):
            return format_rfc3339(resolve_time(node, now))
        if "{unix_minutes:" in node:
            return expand_templates(node, now)
    return node


def _iter_objects(objects: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (obj for obj in objects if obj.get("kind") == kind)


def _complete_metadata(objects: list[dict[str, Any]], now: dt.datetime, first: int = 1) -> None:
    default_created = format_rfc3339(now - dt.timedelta(days=30))
    for version, obj in enumerate(objects, start=first):
        api_version, kind, namespace, name = object_key(obj)
        resource = resource_for_kind(api_version, kind)
        if not name:
            raise ScenarioError(f"{kind} without metadata.name")
        if resource.namespaced and not namespace:
            raise ScenarioError(f"{kind} {name!r} needs metadata.namespace")
        metadata = obj.setdefault("metadata", {})
        metadata.setdefault("uid", str(uuid.uuid5(_UID_NAMESPACE, "/".join(object_key(obj)))))
        metadata.setdefault("resourceVersion", str(1000 + version))
        metadata.setdefault("creationTimestamp", default_created)
        if "spec" in obj and kind not in ("Namespace", "Node", "Service", "Pod"):
            metadata.setdefault("generation", 1)


def _complete_owner_references(objects: list[dict[str, Any]]) -> None:
    uids = {object_key(obj): obj["metadata"]["uid"] for obj in objects}
    for obj in objects:
        namespace = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"].get("ownerReferences") or ():
            key = (ref.get("apiVersion", ""), ref.get("kind", ""), namespace, ref.get("name", ""))
            ref.setdefault("uid", uids.get(key) or str(uuid.uuid5(_UID_NAMESPACE, "/".join(key))))


def _complete_secrets(objects: list[dict[str, Any]]) -> None:
    for secret in _iter_objects(objects, "Secret"):
        secret.setdefault("type", "Opaque")
        string_data = secret.pop("stringData", None) or {}
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _pod_is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _endpoint_ports(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or ():
        target = port.get("targetPort", port.get("port"))
        entry = {
            "port": target if isinstance(target, int) else port.get("port"),
            "protocol": port.get("protocol", "TCP"),
        }
        if "name" in port:
            entry["name"] = port["name"]
        ports.append(entry)
    return ports


def _address(pod: Mapping[str, Any]) -> dict[str, Any]:
    metadata = pod["metadata"]
    return {
        "ip": pod["status"]["podIP"],
        "nodeName": (pod.get("spec") or {}).get("nodeName"),
        "targetRef": {
            "kind": "Pod",
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "uid": metadata["uid"],
        },
    }


def _derive_endpoints(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Do the endpoints controller's job for Services whose Endpoints are not given."""
    explicit = {object_key(obj)[2:] for obj in _iter_objects(objects, "Endpoints")}
    pods = list(_iter_objects(objects, "Pod"))
    derived = []
    for service in _iter_objects(objects, "Service"):
        selector = (service.get("spec") or {}).get("selector")
        namespace, name = object_key(service)[2:]
        if not selector or (namespace, name) in explicit:
            continue
        members = [
            pod
            for pod in pods
            if pod["metadata"].get("namespace") == namespace
            and all((pod["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and (pod.get("status") or {}).get("podIP")
            and pod["status"].get("phase") not in ("Succeeded", "Failed")
        ]
        subset: dict[str, Any] = {}
        ready = [_address(pod) for pod in members if _pod_is_ready(pod)]
        not_ready = [_address(pod) for pod in members if not _pod_is_ready(pod)]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        endpoints: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(service["metadata"].get("labels") or {}),
                "creationTimestamp": service["metadata"]["creationTimestamp"],
            },
        }
        if subset:
            subset["ports"] = _endpoint_ports(service)
            endpoints["subsets"] = [subset]
        derived.append(endpoints)
    return derived


def build_scenario(
    document: Mapping[str, Any], name: str, now: dt.datetime | None = None
) -> Scenario:
    """Resolve a parsed scenario document (possibly with ``extends``) into a Scenario."""
    moment = now or dt.datetime.now(dt.UTC)
    merged = _merged_document(copy.deepcopy(dict(document)))
    objects = _resolve_times(copy.deepcopy(list(merged.get("objects") or [])), moment)
    try:
        _complete_metadata(objects, moment)
        endpoints = _derive_endpoints(objects)
        _complete_metadata(endpoints, moment, first=len(objects) + 1)
        objects.extend(endpoints)
        _complete_owner_references(objects)
        _complete_secrets(objects)
        access = parse_access_table(merged.get("access") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario {name!r}: {exc}") from exc
    logger.debug("loaded Kubernetes scenario %s with %d objects", name, len(objects))
    return Scenario(
        name=name,
        objects=tuple(objects),
        access=access,
        version={**DEFAULT_VERSION, **(merged.get("version") or {})},
        pod_logs={
            expand_templates(str(k), moment): str(v)
            for k, v in (merged.get("podLogs") or {}).items()
        },
    )


def load_scenario(scenario: str | Mapping[str, Any], now: dt.datetime | None = None) -> Scenario:
    """Load a bundled scenario by name, or build one from a mapping of the same shape."""
    if isinstance(scenario, str):
        return build_scenario(_read_document(scenario), scenario, now)
    return build_scenario(scenario, str(scenario.get("name", "custom")), now)
