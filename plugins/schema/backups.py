"""Backup directories and the checks on them: freshness, retention, integrity, restore."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from plugins.schema.base import CheckSpec, Duration, StrictModel
from plugins.schema.registry import check_kind, section

# strftime directives a backup name may carry, and what each matches.
DATE_DIRECTIVES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
}


def date_regex(date_format: str) -> str:
    """The regex matching what ``date_format`` writes (``%Y%m%d`` -> ``\\d{4}\\d{2}\\d{2}``)."""
    parts = []
    for literal, directive in re.findall(r"([^%]*)(?:%(.))?", date_format):
        parts.append(re.escape(literal))
        if directive:
            if directive not in DATE_DIRECTIVES:
                known = ", ".join(f"%{d}" for d in DATE_DIRECTIVES)
                raise ValueError(f"date_format: %{directive} is not supported (use {known})")
            parts.append(DATE_DIRECTIVES[directive])
    return "".join(parts)


@section("backups")
class BackupLocation(StrictModel):
    """A directory of dated backups: where they are, which names, how each is dated.

    Every path under ``path`` matching ``pattern`` belongs to the backup whose date its
    name carries (read with ``date_format``, in ``timezone``); the matches sharing a date
    form one backup: a directory (``daily/20240115/``), a file (``backup_20240115.sql``) or
    a set of files (``config-backup-<DATE>.tar.gz`` + ``service-<DATE>.conf``). Without
    ``date_format`` each match is a backup of its own, dated by its modification time.

    Example::

        backups:
          detector-daily:
            path: /opt/backups/anomaly-detector/daily
            pattern: "*"
            date_format: "%Y%m%d"
            files: [config.tar.gz, data.tar.gz, logs.tar.gz, manifest.txt]
    """

    path: str
    pattern: str = "*"
    date_format: str | None = "%Y%m%d"
    timezone: Literal["local", "utc"] = "local"
    files: list[str] = Field(
        default_factory=list,
        description="globs each backup must hold; {date} is its date text; relative to the "
        "backup's directory, or to path for file backups",
    )
    manifest: str | None = Field(
        default=None, description="a sha256sum-format file, placed like files (SHA256SUMS)"
    )

    @field_validator("date_format")
    @classmethod
    def _known_directives(cls, value: str | None) -> str | None:
        if value is not None:
            if "%" not in value:
                raise ValueError("date_format needs at least one directive such as %Y%m%d")
            date_regex(value)
        return value

    @field_validator("pattern")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("pattern is a glob relative to path")
        return value


class BackupCheck(CheckSpec):
    """Fields every backup check has: which location it reads."""

    backups: str = Field(description="a name under backups:")

    def references(self) -> list[tuple[str, str]]:
        return [("backups", self.backups)]

    def subject(self) -> str:
        return self.component or f"backups/{self.backups}"


@check_kind("backup_freshness")
class BackupFreshnessCheck(BackupCheck):
    """The newest backup is younger than ``max_age``, complete, and no file in it is empty.

    A name's date without a time means midnight: a backup taken daily at 02:00 is up to
    26h old by that reckoning just before the next one, so allow for it in ``max_age``.
    """

    probe: ClassVar[str] = "fixtures.backups:probe_listing"
    kind: Literal["backup_freshness"] = "backup_freshness"
    max_age: Duration
    warn_age: Duration | None = None
    min_size: int = Field(default=1, ge=0, description="bytes each file must have at least")


@check_kind("backup_retention")
class BackupRetentionCheck(BackupCheck):
    """As many backups as the policy keeps (``keep: 7``, or a range), none older than allowed."""

    probe: ClassVar[str] = "fixtures.backups:probe_listing"
    kind: Literal["backup_retention"] = "backup_retention"
    keep: int | None = Field(default=None, ge=1, description="exactly this many")
    min_count: int | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=1)
    max_age: Duration | None = Field(default=None, description="the oldest may be this old")

    @model_validator(mode="after")
    def _some_rule(self) -> BackupRetentionCheck:
        if self.keep is not None and (self.min_count is not None or self.max_count is not None):
            raise ValueError("give keep or min_count/max_count, not both")
        if all(v is None for v in (self.keep, self.min_count, self.max_count, self.max_age)):
            raise ValueError("give at least one of keep, min_count, max_count, max_age")
        if None not in (self.min_count, self.max_count) and self.min_count > self.max_count:  # type: ignore[operator]
            raise ValueError("min_count is above max_count")
        return self


@check_kind("backup_integrity")
class BackupIntegrityCheck(BackupCheck):
    """Every file of the newest (or every) backup opens and reads to the end; checksums match.

    Archives are read whole (tar, tar.gz/bz2/xz, gzip, zip CRCs, pg_dump custom format via
    ``pg_restore``); pg_dump scripts must end with pg_dump's "dump complete" line.
    """

    probe: ClassVar[str] = "fixtures.backups:probe_integrity"
    kind: Literal["backup_integrity"] = "backup_integrity"
    scope: Literal["newest", "all"] = "newest"
    timeout: float | None = Field(default=60.0, gt=0, le=600)


class RestoreExpectation(StrictModel):
    """A read-only query on the restored database and the least value it must return."""

    query: str
    min: float = 1
    label: str = ""


@check_kind("backup_restore")
class BackupRestoreCheck(BackupCheck):
    """Restore the newest pg_dump into a scratch database, count rows, drop the database.

    The only write any Vigil check makes, and only to a database it creates
    (``vigil_restore_<random>``) on a Postgres target whose ``scratch_restore`` is true.
    """

    probe: ClassVar[str] = "fixtures.backups:probe_restore"
    kind: Literal["backup_restore"] = "backup_restore"
    postgres: str = Field(description="the postgres: target to restore into")
    file: str = Field(default="*", description="which file of the backup is the dump (a glob)")
    source_database: str | None = Field(
        default=None, description="for a pg_dumpall script: the database to restore"
    )
    skip_extensions: list[str] = Field(
        default_factory=list, description="extensions the scratch role may not create"
    )
    verify: list[RestoreExpectation] = Field(min_length=1)
    max_duration: Duration | None = Field(
        default=None, description="the restore's time objective (RTO share), e.g. 10m"
    )
    timeout: float | None = Field(default=120.0, gt=0, le=600)

    def references(self) -> list[tuple[str, str]]:
        return [("backups", self.backups), ("postgres", self.postgres)]
