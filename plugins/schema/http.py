"""HTTP services and the checks that read them (health, auth, JSON fields)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel, duration_seconds
from plugins.schema.registry import check_kind, section


class Auth(StrictModel):
    """Credentials sent with a request; the secret comes from ``${VAR}`` or ``secret_file``."""

    type: Literal["header", "bearer", "basic"]
    header: str = "Authorization"
    username: str | None = None
    secret: SecretStr | None = None
    secret_file: str | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> Auth:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret, secret_file")
        if self.type == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        return self


@section("services")
class HttpService(StrictModel):
    """An HTTP(S) service: where it is, how to reach it, where its health and metrics live."""

    url: str = Field(pattern=r"^https?://[^\s/@]+(/|$)", description="no user:password@ - use auth")
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    auth: Auth | None = None
    ca_file: str | None = None
    verify_tls: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=5.0, gt=0, le=120)


class HttpExpect(StrictModel):
    """What a healthy answer looks like."""

    status: list[int] = Field(default_factory=lambda: [200])
    json_fields: dict[str, Any] = Field(default_factory=dict, alias="json")
    body_contains: str | None = None
    latency_ms: Bands | None = None

    @model_validator(mode="before")
    @classmethod
    def _status_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("status"), int):
            return {**data, "status": [data["status"]]}
        return data


class Watch(StrictModel):
    """Poll repeatedly: every answer in the window must be healthy (a post-change watch)."""

    every: Duration
    duration: Duration
    max_failures: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _sane(self) -> Watch:
        if duration_seconds(self.every) <= 0 or duration_seconds(self.duration) < duration_seconds(
            self.every
        ):
            raise ValueError("watch needs every > 0 and duration >= every")
        return self

    def polls(self) -> int:
        return int(duration_seconds(self.duration) // duration_seconds(self.every))


@check_kind("http_health")
class HttpHealthCheck(CheckSpec):
    """GET a health endpoint: status, JSON fields (``database: up``), latency."""

    probe: ClassVar[str] = "fixtures.http_probes:probe_health"
    kind: Literal["http_health"] = "http_health"
    service: str
    path: str | None = None
    method: Literal["GET", "HEAD", "POST"] = "GET"
    body: dict[str, Any] | None = Field(
        default=None,
        description="JSON body for a POST to a query endpoint that changes nothing "
        "(a policy evaluation); checks never write",
    )
    authenticated: bool = False
    expect: HttpExpect = Field(default_factory=HttpExpect)
    watch: Watch | None = None

    @model_validator(mode="after")
    def _post_is_a_query(self) -> HttpHealthCheck:
        if (self.method == "POST") != (self.body is not None):
            raise ValueError(
                "a POST needs a body (a query to an evaluation endpoint), and only a POST has one"
            )
        return self

    def observation_budget(self, timeout: float) -> float:
        if self.watch is None:
            return timeout * 2
        return duration_seconds(self.watch.duration) + timeout * 2

    def default_cadence(self) -> list[str]:
        # A watch spans minutes: it belongs to the change it follows, not the morning check.
        return ["post_deploy"] if self.watch else ["daily"]

    def subject(self) -> str:
        return self.component or self.service

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.service)]


@check_kind("http_auth")
class HttpAuthCheck(CheckSpec):
    """Auth is enforced: no credentials is refused, valid credentials are let in."""

    probe: ClassVar[str] = "fixtures.http_probes:probe_auth"
    kind: Literal["http_auth"] = "http_auth"
    service: str
    path: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    refused: list[int] = Field(default_factory=lambda: [401, 403])
    allowed: list[int] = Field(default_factory=lambda: [200])
    also_refused: list[Auth] = Field(
        default_factory=list,
        description="credentials that must be refused too: a revoked key, a non-admin token",
    )
    check_allowed: bool = Field(
        default=True,
        description="also send the valid credentials; off for writes (PUT), which a check "
        "never sends with credentials that would succeed",
    )

    @model_validator(mode="after")
    def _never_writes(self) -> HttpAuthCheck:
        # Checks never modify targets: a write may only be sent with credentials that fail.
        if self.method in ("POST", "PUT", "PATCH", "DELETE") and self.check_allowed:
            raise ValueError(
                f"a {self.method} is sent only to be refused: set check_allowed: false"
            )
        return self

    def subject(self) -> str:
        return self.component or self.service

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.service)]


@check_kind("http_json_threshold")
class HttpJsonThresholdCheck(CheckSpec):
    """A number in a JSON answer against bands (``jq .gpus[].temperature``: every match)."""

    probe: ClassVar[str] = "fixtures.http_probes:probe_json"
    kind: Literal["http_json_threshold"] = "http_json_threshold"
    service: str
    path: str
    field: str = Field(description="dotted path; [*] iterates a list, e.g. gpus[*].temperature")
    bands: Bands

    def subject(self) -> str:
        return self.component or self.service

    def references(self) -> list[tuple[str, str]]:
        return [("services", self.service)]
