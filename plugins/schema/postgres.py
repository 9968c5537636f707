"""PostgreSQL servers and the checks that read them through libpq (psycopg 3).

Every check connects in a read-only session with a statement timeout; only
``backup_restore`` (see ``plugins.schema.backups``) writes, and only to a scratch database
it creates and drops, on a target whose ``scratch_restore`` is true.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel
from plugins.schema.registry import check_kind, section

PERCENT_BANDS = Bands(warn=80, crit=90, unit="%")


@section("postgres")
class PostgresTarget(StrictModel):
    """A PostgreSQL server reached by a libpq DSN, which is a secret (it may hold a password).

    Example::

        postgres:
          main:
            dsn: "host=db.internal port=5432 dbname=app user=vigil"
            password: ${PG_PASSWORD}
    """

    dsn: SecretStr | None = Field(
        default=None, description="'host=... port=... dbname=... user=...' or postgresql://..."
    )
    dsn_file: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    connect_timeout: int = Field(default=5, ge=2, le=60, description="seconds (libpq minimum 2)")
    statement_timeout: Duration = "5s"
    scratch_restore: bool = Field(
        default=False,
        description="allow backup_restore checks to create and drop vigil_restore_* databases",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PostgresTarget:
        if (self.dsn is None) == (self.dsn_file is None):
            raise ValueError("give exactly one of dsn, dsn_file")
        if self.password is not None and self.password_file is not None:
            raise ValueError("give at most one of password, password_file")
        return self


class PgCheck(CheckSpec):
    """Fields every PostgreSQL check has: which server it reads."""

    target: str = Field(description="a name under postgres:")

    def references(self) -> list[tuple[str, str]]:
        return [("postgres", self.target)]

    def subject(self) -> str:
        return self.component or f"postgres/{self.target}"


@check_kind("pg_ready")
class PgReadyCheck(PgCheck):
    """The server accepts a connection and answers ``SELECT 1`` (what ``pg_isready`` asks)."""

    probe: ClassVar[str] = "fixtures.postgres:probe_ready"
    kind: Literal["pg_ready"] = "pg_ready"
    latency_ms: Bands | None = None


@check_kind("pg_connections")
class PgConnectionsCheck(PgCheck):
    """Client connections as a percentage of ``max_connections``."""

    probe: ClassVar[str] = "fixtures.postgres:probe_connections"
    kind: Literal["pg_connections"] = "pg_connections"
    bands: Bands = PERCENT_BANDS


@check_kind("pg_connection_states")
class PgConnectionStatesCheck(PgCheck):
    """How many sessions match a filter (state, age in state, application, user) vs bands.

    ``state: ["idle in transaction"], older_than: 5m, bands: {crit: 0}`` catches leaked
    transactions; ``application_name: [api, frontend], bands: {crit: 0}`` says no writer
    is left before a shutdown.
    """

    probe: ClassVar[str] = "fixtures.postgres:probe_connection_states"
    kind: Literal["pg_connection_states"] = "pg_connection_states"
    state: list[str] = Field(default_factory=list, description="pg_stat_activity.state values")
    older_than: Duration | None = Field(default=None, description="in that state for longer")
    application_name: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    databases: list[str] = Field(default_factory=list)
    bands: Bands


@check_kind("pg_long_queries")
class PgLongQueriesCheck(PgCheck):
    """The slowest query in seconds: mean time per statement or the longest running one.

    ``source: auto`` reads ``pg_stat_statements`` (slowest mean execution time) when the
    extension is installed and loaded, else ``pg_stat_activity`` (longest active query).
    """

    probe: ClassVar[str] = "fixtures.postgres:probe_long_queries"
    kind: Literal["pg_long_queries"] = "pg_long_queries"
    source: Literal["auto", "statements", "activity"] = "auto"
    min_calls: int = Field(default=1, ge=1, description="statements called fewer times are ignored")
    ignore_users: list[str] = Field(default_factory=list)
    bands: Bands


@check_kind("pg_database_size")
class PgDatabaseSizeCheck(PgCheck):
    """A database's size (``pg_database_size``) in MB or GB against bands."""

    probe: ClassVar[str] = "fixtures.postgres:probe_database_size"
    kind: Literal["pg_database_size"] = "pg_database_size"
    database: str | None = Field(default=None, description="default: the DSN's database")
    unit: Literal["MB", "GB"] = "GB"
    bands: Bands


@check_kind("pg_replication_lag")
class PgReplicationLagCheck(PgCheck):
    """Replication lag, read on the primary (pg_stat_replication) or on a replica.

    A server that is neither a replica nor has a replica attached is an error ("no replica
    configured"), never a pass: the criterion cannot be observed there.
    """

    probe: ClassVar[str] = "fixtures.postgres:probe_replication_lag"
    kind: Literal["pg_replication_lag"] = "pg_replication_lag"
    measure: Literal["seconds", "bytes"] = "seconds"
    min_replicas: int = Field(default=1, ge=1, description="on a primary: replicas expected")
    bands: Bands


@check_kind("pg_table_recency")
class PgTableRecencyCheck(PgCheck):
    """The newest row of a table is recent: ``max(column)`` younger than ``max_age``."""

    probe: ClassVar[str] = "fixtures.postgres:probe_table_recency"
    kind: Literal["pg_table_recency"] = "pg_table_recency"
    table: str = Field(
        pattern=r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$", description="[schema.]table"
    )
    column: str = Field(pattern=r"^[A-Za-z_][\w$]*$", description="a timestamp column")
    max_age: Duration
    warn_age: Duration | None = None


@check_kind("pg_setting")
class PgSettingCheck(PgCheck):
    """A server setting has the expected value and no change is waiting for a restart."""

    probe: ClassVar[str] = "fixtures.postgres:probe_setting"
    kind: Literal["pg_setting"] = "pg_setting"
    setting: str = Field(pattern=r"^[a-z_][a-z0-9_.]*$")
    expected: str | int | float | bool


@check_kind("pg_query")
class PgQueryCheck(PgCheck):
    """A read-only query's single number (first column of the first row) against bands.

    For runbook steps that are a query: ``SELECT count(*) FROM action_audit_logs WHERE ...``.
    """

    probe: ClassVar[str] = "fixtures.postgres:probe_query"
    kind: Literal["pg_query"] = "pg_query"
    query: str
    label: str = Field(default="", description="what the number is, for messages")
    bands: Bands
