"""Simulated RBAC: per-user rules deciding reads and access reviews.

A rule is an RBAC ``PolicyRule`` (verbs, apiGroups, resources, resourceNames) plus the
namespaces its binding grants it in; no ``namespaces`` key means a ClusterRoleBinding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceAttributes:
    """What a request or an access review asks to do."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @classmethod
    def from_review(cls, spec: Mapping[str, Any]) -> ResourceAttributes:
        """Read ``spec.resourceAttributes`` of a (Self)SubjectAccessReview."""
        attrs = spec.get("resourceAttributes") or {}
        return cls(
            verb=str(attrs.get("verb", "")),
            resource=str(attrs.get("resource", "")),
            group=str(attrs.get("group", "")),
            namespace=attrs.get("namespace") or None,
            name=attrs.get("name") or None,
            subresource=attrs.get("subresource") or None,
        )

    def describe(self, user: str) -> str:
        """Return the API server's wording for a denied request."""
        target = self.resource if not self.subresource else f"{self.resource}/{self.subresource}"
        scope = f'in the namespace "{self.namespace}"' if self.namespace else "at the cluster scope"
        return (
            f'User "{user}" cannot {self.verb} resource "{target}" '
            f'in API group "{self.group}" {scope}'
        )


def _set(values: Any) -> frozenset[str]:
    if values is None:
        return frozenset()
    return frozenset(str(v) for v in values)


@dataclass(frozen=True)
class AccessRule:
    """One granted rule; ``namespaces`` None means cluster-wide."""

    verbs: frozenset[str]
    resources: frozenset[str]
    api_groups: frozenset[str]
    namespaces: frozenset[str] | None
    resource_names: frozenset[str]
    granted_by: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AccessRule:
        """Build from a scenario entry (RBAC field names, plus ``namespaces``/``grantedBy``)."""
        namespaces = data.get("namespaces")
        return cls(
            verbs=_set(data.get("verbs")),
            resources=_set(data.get("resources")),
            api_groups=_set(data.get("apiGroups", ["*"])),
            namespaces=None if namespaces is None else _set(namespaces),
            resource_names=_set(data.get("resourceNames")),
            granted_by=str(data.get("grantedBy", "a simulated RBAC binding")),
        )

    def permits(self, attrs: ResourceAttributes) -> bool:
        """Return whether this rule covers the request."""
        target = (
            attrs.resource if not attrs.subresource else f"{attrs.resource}/{attrs.subresource}"
        )
        return (
            ("*" in self.verbs or attrs.verb in self.verbs)
            and ("*" in self.api_groups or attrs.group in self.api_groups)
            and ("*" in self.resources or target in self.resources)
            and (self.namespaces is None or attrs.namespace in self.namespaces)
            and (not self.resource_names or attrs.name in self.resource_names)
        )


@dataclass(frozen=True)
class AccessDecision:
    """Outcome of an authorization check, with the reason the server reports."""

    allowed: bool
    reason: str


def decide(user: str, rules: Iterable[AccessRule], attrs: ResourceAttributes) -> AccessDecision:
    """Allow when any rule of ``user`` covers ``attrs`` (RBAC has no deny rules)."""
    for rule in rules:
        if rule.permits(attrs):
            return AccessDecision(True, f'RBAC: allowed by {rule.granted_by} to User "{user}"')
    return AccessDecision(False, "")


def parse_access_table(data: Mapping[str, Any]) -> dict[str, tuple[AccessRule, ...]]:
    """Parse a scenario's ``access`` mapping of user name to rule list."""
    return {
        str(user): tuple(AccessRule.from_mapping(rule) for rule in rules or ())
        for user, rules in data.items()
    }
