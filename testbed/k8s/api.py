"""Request dispatch of the simulated Kubernetes API, independent of the HTTP plumbing.

``ApiDispatcher.dispatch`` takes a parsed request and returns the response the real API
server would give: authentication (bearer tokens), RBAC on reads, faults, discovery,
``/version``, list/get with selectors and pagination, metadata-only lists, pod logs and
access reviews.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from testbed.k8s.access import AccessRule, ResourceAttributes, decide
from testbed.k8s.resources import RESOURCE_TYPES, ResourceRequest, parse_resource_path
from testbed.k8s.selectors import Predicate, SelectorError, field_selector, label_selector
from testbed.k8s.status import failure_status, not_found
from testbed.k8s.store import ClusterStore

logger = logging.getLogger(__name__)

Fault = int | Literal["hang"]
_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
_REVIEW_PREFIX = "/apis/authorization.k8s.io/v1/"
_META_PARTIAL = {"g": "meta.k8s.io", "v": "v1"}


@dataclass(frozen=True)
class ApiRequest:
    """What the dispatcher needs from an HTTP request (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class ApiResponse:
    """Status, headers and body to send; ``hang`` means send nothing until shutdown."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> ApiResponse:
        """Return a JSON response."""
        return cls(status, json.dumps(payload).encode(), headers=dict(headers))


@dataclass(frozen=True)
class RecordedRequest:
    """A request the simulation served (no credentials recorded)."""

    method: str
    path: str
    query: str
    user: str | None
    status: int


class ApiDispatcher:
    """Holds tokens, faults and the store; turns requests into responses."""

    def __init__(self, store: ClusterStore, tokens: Mapping[str, str]) -> None:
        self.store = store
        self._tokens = dict(tokens)
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self.recorded: list[RecordedRequest] = []

    # --- configuration -----------------------------------------------------------------

    def add_token(self, token: str, user: str) -> None:
        """Accept ``token`` as ``user`` from now on."""
        with self._lock:
            self._tokens[token] = user

    def set_fault(self, path_prefix: str, fault: Fault) -> None:
        """Answer requests under ``path_prefix`` with status ``fault``, or never ("hang")."""
        if fault != "hang" and not (isinstance(fault, int) and 400 <= fault <= 599):
            raise ValueError(f"a fault is an HTTP error status (400-599) or 'hang', not {fault!r}")
        with self._lock:
            self._faults[path_prefix] = fault

    def clear_faults(self) -> None:
        """Serve every path normally again."""
        with self._lock:
            self._faults.clear()

    # --- dispatch ------------------------------------------------------------------------

    def dispatch(self, request: ApiRequest) -> ApiResponse:
        """Answer one request and record it."""
        user = self._authenticate(request.headers.get("authorization", ""))
        response = self._answer(request, user)
        with self._lock:
            self.recorded.append(
                RecordedRequest(request.method, request.path, request.query, user, response.status)
            )
        return response

    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            matches = [p for p in self._faults if path.startswith(p)]
            return self._faults[max(matches, key=len)] if matches else None

    def _authenticate(self, authorization: str) -> str | None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return None
        with self._lock:
            tokens = list(self._tokens.items())
        for token, user in tokens:
            if hmac.compare_digest(token.encode(), credential.strip().encode()):
                return user
        return None

    def _answer(self, request: ApiRequest, user: str | None) -> ApiResponse:
        fault = self._fault_for(request.path)
        if fault == "hang":
            return ApiResponse(0, hang=True)
        if isinstance(fault, int):
            return ApiResponse.json(
                fault,
                failure_status(fault, retry_after_seconds=1 if fault == 429 else None),
                **({"Retry-After": "1"} if fault == 429 else {}),
            )
        path = request.path.rstrip("/") or "/"
        anonymous = "authorization" not in request.headers
        if path in _PUBLIC_PATHS and (user is not None or anonymous):
            return self._public(path)
        if user is None:
            return ApiResponse.json(401, failure_status(401))
        if path.startswith(_REVIEW_PREFIX) and request.method == "POST":
            return self._access_review(path[len(_REVIEW_PREFIX) :], request.body, user)
        discovery = self._discovery(path)
        if discovery is not None:
            return discovery
        resource_request = parse_resource_path(path)
        if resource_request is None:
            return ApiResponse.json(
                404, failure_status(404, "the server could not find the requested resource")
            )
        if request.method != "GET":
            return ApiResponse.json(
                405,
                failure_status(405, f"the simulation serves reads only, not {request.method}"),
            )
        return self._read(resource_request, request, user)

    # --- non-resource endpoints ---------------------------------------------------------

    def _public(self, path: str) -> ApiResponse:
        if path == "/version":
            return ApiResponse.json(200, dict(self.store.scenario.version))
        return ApiResponse(200, b"ok", content_type="text/plain; charset=utf-8")

    def _discovery(self, path: str) -> ApiResponse | None:
        if path == "/api":
            return ApiResponse.json(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        groups = sorted({(r.group, r.version) for r in RESOURCE_TYPES if r.group})
        if path == "/apis":
            return ApiResponse.json(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {
                            "name": g,
                            "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                            "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                        }
                        for g, v in groups
                    ],
                },
            )
        if path == "/api/v1":
            group_version = "v1"
        elif path.startswith("/apis/") and path.count("/") == 3:
            group_version = path.removeprefix("/apis/")
        else:
            return None
        resources = [r for r in RESOURCE_TYPES if r.api_version == group_version]
        if not resources:
            return None
        return ApiResponse.json(
            200,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "list"],
                    }
                    for r in resources
                ],
            },
        )

    # --- access reviews -----------------------------------------------------------------

    def _rules(self, user: str) -> tuple[AccessRule, ...]:
        return self.store.scenario.access.get(user, ())

    def _access_review(self, kind_path: str, body: bytes, user: str) -> ApiResponse:
        try:
            review = json.loads(body or b"{}")
            spec = review["spec"]
        except (ValueError, KeyError, TypeError):
            return ApiResponse.json(400, failure_status(400, "malformed access review body"))
        if kind_path == "selfsubjectaccessreviews":
            subject = user
        elif kind_path == "subjectaccessreviews":
            may_review = decide(
                user,
                self._rules(user),
                ResourceAttributes("create", "subjectaccessreviews", "authorization.k8s.io"),
            )
            if not may_review.allowed:
                return self._forbidden(
                    user,
                    ResourceAttributes("create", "subjectaccessreviews", "authorization.k8s.io"),
                )
            subject = str(spec.get("user", ""))
        else:
            return ApiResponse.json(
                404, failure_status(404, "the server could not find the requested resource")
            )
        if "resourceAttributes" not in spec:
            return ApiResponse.json(
                422, failure_status(422, "only resourceAttributes reviews are simulated")
            )
        decision = decide(subject, self._rules(subject), ResourceAttributes.from_review(spec))
        answer = copy.deepcopy(review)
        answer.setdefault("metadata", {})["creationTimestamp"] = None
        answer["status"] = {"allowed": decision.allowed}
        if decision.reason:
            answer["status"]["reason"] = decision.reason
        return ApiResponse.json(201, answer)

    def _forbidden(self, user: str, attrs: ResourceAttributes) -> ApiResponse:
        target = attrs.resource if not attrs.group else f"{attrs.resource}.{attrs.group}"
        message = f"{target} is forbidden: {attrs.describe(user)}"
        return ApiResponse.json(
            403, failure_status(403, message, kind=attrs.resource, group=attrs.group or None)
        )

    # --- reads ---------------------------------------------------------------------------

    def _read(self, target: ResourceRequest, request: ApiRequest, user: str) -> ApiResponse:
        resource = target.resource
        params = {k: v[-1] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        verb = "get" if target.name else "list"
        if params.get("watch") in ("1", "true"):
            return ApiResponse.json(400, failure_status(400, "the simulation does not serve watch"))
        attrs = ResourceAttributes(
            verb,
            resource.plural,
            resource.group,
            target.namespace,
            target.name,
            target.subresource,
        )
        if not decide(user, self._rules(user), attrs).allowed:
            return self._forbidden(user, attrs)
        partial = _wants_partial_metadata(request.headers.get("accept", ""))
        if target.name is None:
            return self._list(target, params, partial)
        obj = self.store.get(resource, target.namespace, target.name)
        if obj is None:
            return ApiResponse.json(404, not_found(resource.plural, target.name, resource.group))
        if target.subresource == "log":
            return self._pod_log(obj, params)
        if partial:
            return ApiResponse.json(200, _partial(obj))
        return ApiResponse.json(200, obj)

    def _list(
        self, target: ResourceRequest, params: Mapping[str, str], partial: bool
    ) -> ApiResponse:
        resource = target.resource
        predicates: list[Predicate] = []
        try:
            if params.get("labelSelector"):
                predicates.append(label_selector(params["labelSelector"]))
            if params.get("fieldSelector"):
                predicates.append(
                    field_selector(params["fieldSelector"], resource.selectable_fields)
                )
            limit = int(params.get("limit") or 0) or None
            offset = int(params.get("continue") or 0)
        except (SelectorError, ValueError) as exc:
            return ApiResponse.json(400, failure_status(400, str(exc)))
        page = self.store.list(resource, target.namespace, predicates, limit, offset)
        metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            metadata["continue"] = page.continue_token
            metadata["remainingItemCount"] = page.remaining
        if partial:
            return ApiResponse.json(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                    "items": [_partial(obj) for obj in page.items],
                },
            )
        items = [
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")} for obj in page.items
        ]
        return ApiResponse.json(
            200,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": metadata,
                "items": items,
            },
        )

    def _pod_log(self, pod: Mapping[str, Any], params: Mapping[str, str]) -> ApiResponse:
        metadata = pod["metadata"]
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or ()]
        container = params.get("container") or None
        if container is None and len(containers) > 1:
            message = (
                f"a container name must be specified for pod {metadata['name']}, "
                f"choose one of: {containers}"
            )
            return ApiResponse.json(400, failure_status(400, message))
        if container is not None and container not in containers:
            message = f"container {container} is not valid for pod {metadata['name']}"
            return ApiResponse.json(400, failure_status(400, message))
        text = self.store.pod_log(metadata["namespace"], metadata["name"], container) or ""
        lines = text.splitlines(keepends=True)
        tail = params.get("tailLines")
        if tail and tail.lstrip("-").isdigit() and int(tail) >= 0:
            lines = lines[len(lines) - int(tail) :] if int(tail) else []
        return ApiResponse(200, "".join(lines).encode(), content_type="text/plain")


def _wants_partial_metadata(accept: str) -> bool:
    for media_type in accept.split(","):
        params = dict(
            part.strip().split("=", 1) for part in media_type.split(";")[1:] if "=" in part
        )
        if params.get("as", "").startswith("PartialObjectMetadata") and all(
            params.get(k) == v for k, v in _META_PARTIAL.items()
        ):
            return True
    return False


def _partial(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(obj["metadata"]),
    }
