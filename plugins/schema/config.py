"""Configuration files: drift from a baseline, and validation by the tool that reads them.

Catalogue kinds config_drift (``diff -u /opt/baselines/config.ini /etc/...``, the weekly
``sha256sum``) and config_validate (``anomaly_detector --validate-config``, ``nginx -t``,
``promtool check rules``, ``docker-compose config -q``: any read-only argv).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from plugins.schema.base import CheckSpec
from plugins.schema.hosts import CONNECT_ALLOWANCE_S, LOCAL, HostCheck
from plugins.schema.registry import check_kind


@check_kind("config_drift")
class ConfigDriftCheck(HostCheck):
    """A file on a host equals its baseline: a baseline copy, a sha256, or a sha256sum file.

    With a baseline copy, a drift shows a unified diff with secret values masked.
    """

    probe: ClassVar[str] = "fixtures.config:probe_drift"
    kind: Literal["config_drift"] = "config_drift"
    path: str = Field(pattern=r"^/")
    baseline_file: str | None = Field(default=None, pattern=r"^/")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    checksum_file: str | None = Field(
        default=None, pattern=r"^/", description="``sha256sum FILE`` output recorded earlier"
    )
    max_diff_lines: int = Field(default=20, ge=1, le=200)

    @model_validator(mode="after")
    def _one_baseline(self) -> ConfigDriftCheck:
        given = [self.baseline_file, self.sha256, self.checksum_file]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of baseline_file, sha256, checksum_file")
        return self

    def observation_budget(self, timeout: float) -> float:
        # Both checksums, then (on a drift) both files for the diff.
        return timeout * 3 + CONNECT_ALLOWANCE_S

    def subject(self) -> str:
        return self.component or PurePosixPath(self.path).name


@check_kind("config_validate")
class ConfigValidateCheck(CheckSpec):
    """A validation command exits 0 (or one of ``success_codes``) within the timeout.

    Without ``host`` (or with ``local``) the argv runs here with no shell; on an SSH host it
    runs quoted, word for word. The command must only read.
    """

    probe: ClassVar[str] = "fixtures.config:probe_validate"
    kind: Literal["config_validate"] = "config_validate"
    command: list[str] = Field(min_length=1, description="argv, e.g. [nginx, -t, -c, FILE]")
    host: str | None = Field(default=None, description="a name in hosts:; default: here")
    cwd: str | None = Field(default=None, pattern=r"^/")
    success_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @model_validator(mode="after")
    def _command_named(self) -> ConfigValidateCheck:
        if not self.command[0].strip():
            raise ValueError("command: the first word names the program")
        return self

    def observation_budget(self, timeout: float) -> float:
        return timeout * 2 + (0.0 if self.host in (None, LOCAL) else CONNECT_ALLOWANCE_S)

    def references(self) -> list[tuple[str, str]]:
        return [] if self.host in (None, LOCAL) else [("hosts", self.host or "")]

    def subject(self) -> str:
        return self.component or PurePosixPath(self.command[0]).name


@check_kind("config_keys")
class ConfigKeysCheck(HostCheck):
    """Settings in a file are present and non-empty; their values are never read out.

    Reads ``KEY=value`` (shell, ``.env``, ``export KEY=...``) and ``key = value`` (ini)
    lines; a ``${VAR:-default}`` or quoted value counts as set when not empty. With
    ``lines``, each regex must match some non-comment line (a crontab entry).
    """

    probe: ClassVar[str] = "fixtures.config:probe_keys"
    kind: Literal["config_keys"] = "config_keys"
    path: str = Field(pattern=r"^/")
    keys: list[str] = Field(default_factory=list, description="names that must be set")
    lines: list[str] = Field(default_factory=list, description="regexes a line must match")

    @model_validator(mode="after")
    def _something_required(self) -> ConfigKeysCheck:
        if not self.keys and not self.lines:
            raise ValueError("give keys, lines, or both")
        return self

    def subject(self) -> str:
        return self.component or PurePosixPath(self.path).name
