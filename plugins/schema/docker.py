"""Docker Compose projects and the checks that read them through the Docker Engine API.

A ``docker:`` entry is one compose project on one engine; checks name it (``target:``).
Containers are found by the label compose puts on them (``com.docker.compose.project``),
so no compose file or CLI is needed. Checks only read (list, inspect, logs).

Example::

    docker:
      aegis-c: {base_url: "unix:///var/run/docker.sock", project: aegis-c}
    checks:
      compose-up:
        kind: compose_services
        target: aegis-c
        services: [detector, fingerprint, console, postgres, redis]
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel
from plugins.schema.logs import LinePattern
from plugins.schema.registry import check_kind, section


@section("docker")
class DockerTarget(StrictModel):
    """A compose project on a Docker Engine (``unix://`` socket, or ``tcp://`` with TLS)."""

    base_url: str = Field(pattern=r"^(unix|tcp|ssh)://\S+$")
    project: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="compose project name")
    timeout: float = Field(default=10.0, gt=0, le=120, description="seconds per API call")
    api_version: str = Field(default="auto", pattern=r"^(auto|\d+\.\d+)$")
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @model_validator(mode="after")
    def _client_pair(self) -> DockerTarget:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        return self


class ComposeCheck(CheckSpec):
    """Fields every compose check has: which project (``docker:`` entry) it reads."""

    target: str = Field(description="a name under docker:")

    def references(self) -> list[tuple[str, str]]:
        return [("docker", self.target)]

    def observation_budget(self, timeout: float) -> float:
        return timeout * 3  # a list, then an inspect (or a log read) per container

    def subject(self) -> str:
        return self.component or self.target


@check_kind("compose_services")
class ComposeServicesCheck(ComposeCheck):
    """Every service of the project running, healthy where it has a healthcheck.

    ``services`` lists the services that must exist (one missing fails); empty means every
    container the project has. ``bands`` grade by the number of failing services (one
    down: warn, several: crit) for runbooks whose severity depends on it.
    """

    probe: ClassVar[str] = "fixtures.docker:probe_services"
    kind: Literal["compose_services"] = "compose_services"
    services: list[str] = Field(default_factory=list)
    require_healthy: bool = True
    max_restarts: int | None = Field(default=None, ge=0)
    bands: Bands | None = None

    @model_validator(mode="after")
    def _count_bands(self) -> ComposeServicesCheck:
        if self.bands is not None and self.bands.direction != "above":
            raise ValueError("bands count failing services: direction must be 'above'")
        return self


@check_kind("compose_env")
class ComposeEnvCheck(ComposeCheck):
    """Environment variables set in a service's container (names only; values never shown).

    ``equals`` compares a variable with the value clients use (``${API_KEY}``) by digest.
    """

    probe: ClassVar[str] = "fixtures.docker:probe_env"
    kind: Literal["compose_env"] = "compose_env"
    service: str
    variables: list[str] = Field(min_length=1)
    equals: dict[str, SecretStr] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _compared_are_required(self) -> ComposeEnvCheck:
        extra = sorted(set(self.equals) - set(self.variables))
        if extra:
            raise ValueError(f"equals names {', '.join(extra)}: list them in variables too")
        return self

    def subject(self) -> str:
        return self.component or f"{self.target}/{self.service}"


@check_kind("compose_logs")
class ComposeLogsCheck(ComposeCheck, LinePattern):
    """Lines of a service's log (``docker compose logs --tail``) matching a pattern.

    Without ``service``, every service's log (``docker compose logs``).
    ``count: not_json`` counts the lines that are not JSON objects instead (structured
    logging). Informational entries report the count and the lines and never fail.
    """

    probe: ClassVar[str] = "fixtures.docker:probe_logs"
    kind: Literal["compose_logs"] = "compose_logs"
    service: str | None = Field(default=None, description="default: every service")
    tail: int = Field(default=200, ge=1, le=100_000)
    since: Duration | None = None
    count: Literal["matching", "not_json"] = "matching"
    evidence: int = Field(default=5, ge=0, le=20)

    def subject(self) -> str:
        if self.component is None and self.service is not None:
            return f"{self.target}/{self.service}"
        return super().subject()


@check_kind("compose_stats")
class ComposeStatsCheck(ComposeCheck):
    """CPU % and memory per compose service, as ``docker stats --no-stream``; informational.

    One ``/containers/{id}/stats?stream=false`` sample per running container (the engine
    takes about a second for it, for the CPU delta), summed per service.
    """

    probe: ClassVar[str] = "fixtures.docker:probe_stats"
    kind: Literal["compose_stats"] = "compose_stats"
    services: list[str] = Field(default_factory=list, description="default: every service")

    def observation_budget(self, timeout: float) -> float:
        return timeout * 4  # a list, then the samples (taken in parallel)
