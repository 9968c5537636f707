"""TLS endpoints and certificate files, and the check of their certificates.

Catalogue kind certificate: days until expiry against bands (seed 004 renews under 30 days),
the chain trusted by a CA bundle, the names the certificate covers.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plugins.schema.base import Bands, CheckSpec, StrictModel
from plugins.schema.hosts import CONNECT_ALLOWANCE_S, LOCAL
from plugins.schema.registry import check_kind, section


@section("tls")
class TlsEndpoint(StrictModel):
    """A TLS server: its address, the name it must present, the CA bundle that must trust it."""

    address: str = Field(
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$", description="host:port"
    )
    server_name: str | None = Field(
        default=None, description="SNI and the name the certificate must cover; default: host"
    )
    ca_file: str | None = Field(default=None, description="PEM bundle; default: system trust")

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def expected_name(self) -> str:
        return self.server_name or self.host


def _days_bands() -> Bands:
    return Bands(warn=30, crit=7, direction="below", unit=" days")


@check_kind("tls_certificate")
class TlsCertificateCheck(CheckSpec):
    """The certificate an endpoint serves, or a certificate file on a host.

    A file (``openssl x509 -enddate -in FILE`` in the runbook) is read from ``host``; its
    chain is checked when ``ca_file`` (on the same host) is given, its names when
    ``server_name`` is.
    """

    probe: ClassVar[str] = "fixtures.tls:probe_certificate"
    kind: Literal["tls_certificate"] = "tls_certificate"
    endpoint: str | None = None
    file: str | None = Field(default=None, pattern=r"^/")
    host: str | None = Field(default=None, description="where the file is (hosts: or 'local')")
    ca_file: str | None = Field(default=None, pattern=r"^/")
    server_name: str | None = None
    days_left: Bands = Field(default_factory=_days_bands)
    verify_chain: bool = True
    verify_hostname: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> TlsCertificateCheck:
        if (self.endpoint is None) == (self.file is None):
            raise ValueError("give exactly one of endpoint, file")
        if self.endpoint is not None and (self.host or self.ca_file or self.server_name):
            raise ValueError("host, ca_file and server_name belong to a file; set the endpoint's")
        if self.file is not None and self.host is None:
            raise ValueError("a certificate file needs host: (a name in hosts:, or 'local')")
        explicit_chain = "verify_chain" in self.model_fields_set and self.verify_chain
        if self.file is not None and explicit_chain and self.ca_file is None:
            raise ValueError("verify_chain on a file needs ca_file")
        if self.days_left.direction != "below":
            raise ValueError("days_left bands go 'below' (fewer days left is worse)")
        return self

    def observation_budget(self, timeout: float) -> float:
        # An endpoint's handshakes share one timeout; a file is read over SSH perhaps.
        return timeout * 2 + (0.0 if self.endpoint is not None else CONNECT_ALLOWANCE_S)

    def references(self) -> list[tuple[str, str]]:
        if self.endpoint is not None:
            return [("tls", self.endpoint)]
        return [] if self.host in (None, LOCAL) else [("hosts", self.host)]

    def subject(self) -> str:
        return self.component or self.endpoint or PurePosixPath(self.file or "").name
