"""Machines reached through testinfra (locally or over SSH) and the checks that read them.

Catalogue kinds host_service, host_resource and host_security: a service is active, ports
are held by the right process, files have the right owner and mode, no stray SUID files,
disk and memory within bands, who has a login shell, pending security updates.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel, duration_seconds
from plugins.schema.registry import check_kind, section

LOCAL = "local"
# Room for reaching a host over SSH before its commands' own timeouts start counting.
CONNECT_ALLOWANCE_S = 10.0


@section("hosts")
class Host(StrictModel):
    """A machine the host checks read: ``host: local``, or an SSH login (user, key, port)."""

    host: str = Field(min_length=1, description="'local', or the SSH host name or address")
    user: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    key_file: str | None = None
    known_hosts: str | None = Field(
        default=None, description="known_hosts file; without it the host key is not checked"
    )
    sudo: bool = False
    connect_timeout: float = Field(default=5.0, gt=0, le=CONNECT_ALLOWANCE_S)

    @model_validator(mode="after")
    def _local_has_no_login(self) -> Host:
        if self.is_local and (self.user or self.key_file or self.known_hosts):
            raise ValueError("a local host takes no user, key_file or known_hosts")
        return self

    @property
    def is_local(self) -> bool:
        return self.host == LOCAL


class HostCheck(CheckSpec):
    """A check that runs read-only commands on one host of the inventory."""

    host: str = Field(description="a name in hosts:, or 'local' for the machine Vigil runs on")

    def observation_budget(self, timeout: float) -> float:
        return timeout * 2 + CONNECT_ALLOWANCE_S

    def references(self) -> list[tuple[str, str]]:
        # 'local' needs no inventory entry: it is the machine the run is on.
        return [] if self.host == LOCAL else [("hosts", self.host)]

    def subject(self) -> str:
        return self.component or self.host


class ListenRule(StrictModel):
    """A listening socket: its port (or a URL's port), optionally address and owning process."""

    port: int | None = Field(default=None, ge=1, le=65535)
    url: str | None = Field(default=None, description="take the port from this URL")
    protocol: Literal["tcp", "udp"] = "tcp"
    address: str | None = Field(default=None, description="e.g. 127.0.0.1; a wildcard matches")
    process: str | None = Field(default=None, description="regex every owner's name must match")

    @model_validator(mode="after")
    def _one_port(self) -> ListenRule:
        if (self.port is None) == (self.url is None):
            raise ValueError("give exactly one of port, url")
        if self.url is not None and urlsplit(self.url).port is None:
            raise ValueError(f"url {self.url!r} names no port")
        return self

    @field_validator("process")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @property
    def port_number(self) -> int:
        if self.port is not None:
            return self.port
        return urlsplit(self.url or "").port or 0

    def describe(self) -> str:
        where = f"{self.address}:{self.port_number}" if self.address else str(self.port_number)
        return f"{where}/{self.protocol}"


@check_kind("host_service")
class HostServiceCheck(HostCheck):
    """A service is active (systemd); without systemd, its process runs and its ports listen.

    ``stable_for`` observes twice that far apart: still active with the same main process
    (the runbook's ``sleep 30; systemctl is-active`` after a start).
    """

    probe: ClassVar[str] = "fixtures.hosts:probe_service"
    kind: Literal["host_service"] = "host_service"
    service: str = Field(min_length=1, description="the systemd unit, e.g. anomaly-detector")
    process: str | None = Field(default=None, description="regex on the process command line")
    listening: list[ListenRule] = Field(default_factory=list)
    stable_for: Duration | None = None

    @field_validator("process")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @property
    def interval(self) -> float:
        """Seconds between the two observations (0 without ``stable_for``)."""
        return duration_seconds(self.stable_for) if self.stable_for else 0.0

    def observation_budget(self, timeout: float) -> float:
        # Look, wait, look again.
        return timeout * 2 + self.interval + CONNECT_ALLOWANCE_S

    def subject(self) -> str:
        return self.component or self.service


@check_kind("host_ports")
class HostPortsCheck(HostCheck):
    """Required sockets listen (held by the right process); with ``allowed``, nothing else does."""

    probe: ClassVar[str] = "fixtures.hosts:probe_ports"
    kind: Literal["host_ports"] = "host_ports"
    required: list[ListenRule] = Field(default_factory=list)
    allowed: list[int] | None = Field(
        default=None, description="ports that may listen besides the required ones; none: review"
    )


def _octal(value: object) -> object:
    # YAML reads an unquoted 640 as the integer six hundred and forty: its digits are meant.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str):
        if not re.fullmatch(r"0?[0-7]{3,4}", text):
            raise ValueError(f"mode {value!r}: write it in octal, e.g. '640' or '2750'")
        return int(text, 8)
    return value


@check_kind("host_file")
class HostFileCheck(HostCheck):
    """A file or directory exists with the expected owner, group and mode.

    ``recursive`` checks owner and group of everything below a directory (``chown -R``).
    """

    probe: ClassVar[str] = "fixtures.hosts:probe_file"
    kind: Literal["host_file"] = "host_file"
    path: str = Field(pattern=r"^/")
    type: Literal["file", "directory"] | None = None
    owner: str | None = None
    group: str | None = None
    mode: int | None = Field(default=None, description="octal, e.g. '640'")
    recursive: bool = False

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return _octal(value) if value is not None else value

    @model_validator(mode="after")
    def _recursive_needs_owner(self) -> HostFileCheck:
        if self.recursive and self.owner is None and self.group is None:
            raise ValueError("recursive checks owner and group: give at least one")
        return self


@check_kind("host_suid")
class HostSuidCheck(HostCheck):
    """No SUID/SGID files under the given directories beyond an allow-list."""

    probe: ClassVar[str] = "fixtures.hosts:probe_suid"
    kind: Literal["host_suid"] = "host_suid"
    paths: list[str] = Field(min_length=1)
    allowed: list[str] = Field(default_factory=list, description="full paths that may be SUID")


@check_kind("host_disk")
class HostDiskCheck(HostCheck):
    """The filesystem holding ``path``: percent of space used, as ``df`` shows it."""

    probe: ClassVar[str] = "fixtures.hosts:probe_disk"
    kind: Literal["host_disk"] = "host_disk"
    path: str = Field(default="/", pattern=r"^/")
    bands: Bands


@check_kind("host_memory")
class HostMemoryCheck(HostCheck):
    """Percent of memory in use (total less available, as ``free`` counts it)."""

    probe: ClassVar[str] = "fixtures.hosts:probe_memory"
    kind: Literal["host_memory"] = "host_memory"
    bands: Bands


@check_kind("host_directory_size")
class HostDirectorySizeCheck(HostCheck):
    """Size of a directory in MB (``du -sk``), and the recent growth of matching files.

    Without bands it is a review item: the sizes are reported and the check passes.
    """

    probe: ClassVar[str] = "fixtures.hosts:probe_directory_size"
    kind: Literal["host_directory_size"] = "host_directory_size"
    path: str = Field(pattern=r"^/")
    name: str = Field(default="*", description="file name pattern for growth, e.g. '*.log'")
    modified_within: Duration | None = Field(default=None, description="growth window, e.g. 7d")
    bands: Bands | None = None
    growth_bands: Bands | None = None

    @model_validator(mode="after")
    def _growth_needs_window(self) -> HostDirectorySizeCheck:
        if self.growth_bands is not None and self.modified_within is None:
            raise ValueError("growth_bands needs modified_within")
        return self


@check_kind("host_shell_users")
class HostShellUsersCheck(HostCheck):
    """Accounts with a login shell; with ``allowed``, any other such account fails."""

    probe: ClassVar[str] = "fixtures.hosts:probe_shell_users"
    kind: Literal["host_shell_users"] = "host_shell_users"
    allowed: list[str] | None = None


@check_kind("host_pending_updates")
class HostPendingUpdatesCheck(HostCheck):
    """Upgradable packages from apt's lists (security ones only, by default) against bands."""

    probe: ClassVar[str] = "fixtures.hosts:probe_pending_updates"
    kind: Literal["host_pending_updates"] = "host_pending_updates"
    security_only: bool = True
    bands: Bands = Field(default_factory=lambda: Bands(crit=0, unit=" packages"))
