"""Read-side object store of the simulated cluster, swapped whole when a scenario loads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from testbed.k8s.resources import ResourceType, resource_for_kind
from testbed.k8s.scenario import Scenario

logger = logging.getLogger(__name__)

Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ListPage:
    """One page of a list: items, the collection resourceVersion and a continue token."""

    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str | None
    remaining: int | None


class ClusterStore:
    """Objects of one scenario indexed by resource type; replaced atomically on load."""

    def __init__(self, scenario: Scenario) -> None:
        # One tuple, swapped in a single assignment, so a reader never mixes two scenarios.
        self._state = (scenario, self._build_index(scenario))

    @staticmethod
    def _build_index(scenario: Scenario) -> dict[ResourceType, list[dict[str, Any]]]:
        index: dict[ResourceType, list[dict[str, Any]]] = {}
        for obj in scenario.objects:
            resource = resource_for_kind(obj["apiVersion"], obj["kind"])
            index.setdefault(resource, []).append(obj)
        for objects in index.values():
            objects.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return index

    @property
    def scenario(self) -> Scenario:
        """Return the scenario being served."""
        return self._state[0]

    def replace(self, scenario: Scenario) -> None:
        """Serve ``scenario`` from now on (in-flight requests finish on the old one)."""
        self._state = (scenario, self._build_index(scenario))
        logger.info("simulated Kubernetes API now serves scenario %s", scenario.name)

    def get(
        self, resource: ResourceType, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """Return one object, or None."""
        for obj in self._state[1].get(resource, ()):
            metadata = obj["metadata"]
            if metadata["name"] == name and metadata.get("namespace") == namespace:
                return obj
        return None

    def list(
        self,
        resource: ResourceType,
        namespace: str | None,
        predicates: list[Predicate],
        limit: int | None = None,
        offset: int = 0,
    ) -> ListPage:
        """Return objects of ``resource`` (in ``namespace`` if given) that match all predicates."""
        scenario, index = self._state
        objects = index.get(resource, [])
        matched = [
            obj
            for obj in objects
            if (namespace is None or obj["metadata"].get("namespace") == namespace)
            and all(predicate(obj) for predicate in predicates)
        ]
        collection_version = max(
            (int(obj["metadata"]["resourceVersion"]) for obj in scenario.objects),
            default=1,
        )
        end = len(matched) if not limit else offset + limit
        page = matched[offset:end]
        more = end < len(matched)
        return ListPage(
            items=page,
            resource_version=str(collection_version),
            continue_token=str(end) if more else None,
            remaining=len(matched) - end if more else None,
        )

    def pod_log(self, namespace: str, pod: str, container: str | None) -> str | None:
        """Return a pod's log text (container-specific entry first), or None if none recorded."""
        logs = self._state[0].pod_logs
        if container and f"{namespace}/{pod}/{container}" in logs:
            return logs[f"{namespace}/{pod}/{container}"]
        return logs.get(f"{namespace}/{pod}")
