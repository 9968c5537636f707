"""PostgreSQL checks (catalogue kind db_postgres): reachability, connections, queries, lag.

The probes read through read-only sessions (fixtures.postgres); these functions judge.
"""

from __future__ import annotations

import pytest

from fixtures.backups import age_text
from fixtures.postgres import (
    PgConnections,
    PgReady,
    PgRecency,
    PgReplication,
    PgSessions,
    PgSetting,
    PgSize,
    PgSlowest,
    PgValue,
)
from fixtures.verdict import fail, judge
from plugins.schema.base import Bands, duration_seconds
from plugins.schema.postgres import (
    PgConnectionsCheck,
    PgConnectionStatesCheck,
    PgDatabaseSizeCheck,
    PgLongQueriesCheck,
    PgQueryCheck,
    PgReadyCheck,
    PgReplicationLagCheck,
    PgSettingCheck,
    PgTableRecencyCheck,
)

_SIZE_UNITS = {"MB": 1024.0**2, "GB": 1024.0**3}
_TRUE = {"on", "true", "yes", "1"}


@pytest.mark.kind("pg_ready")
@pytest.mark.severity("critical")
def test_pg_ready(check: PgReadyCheck, observation: PgReady) -> None:
    if not observation.accepting:
        fail(
            f"postgres {observation.target}: not accepting queries: {observation.reason}",
            observed=observation.reason,
            expected="accepting connections (pg_isready exit 0)",
        )
    if check.latency_ms is not None:
        judge(
            f"postgres {observation.target} connect+query time",
            observation.latency_ms,
            check.latency_ms,
        )


@pytest.mark.kind("pg_connections")
@pytest.mark.severity("high")
def test_pg_connections(check: PgConnectionsCheck, observation: PgConnections) -> None:
    if observation.refused:
        what = (
            f"postgres {observation.target}: connections (new ones refused: {observation.refused})"
        )
    else:
        what = (
            f"postgres {observation.target}: max_connections used"
            f" ({observation.used}/{observation.maximum})"
        )
    judge(what, round(observation.percent, 1), _with_unit(check.bands, "%"))


@pytest.mark.kind("pg_connection_states")
@pytest.mark.severity("medium")
def test_pg_connection_states(check: PgConnectionStatesCheck, observation: PgSessions) -> None:
    states = ", ".join(f"{n} {s}" for s, n in sorted(observation.by_state.items())) or "none"
    judge(
        f"postgres {observation.target}: sessions {_filter_text(check)} [all: {states}]",
        observation.matching,
        check.bands,
    )


def _filter_text(check: PgConnectionStatesCheck) -> str:
    parts = []
    if check.state:
        parts.append(" or ".join(check.state))
    if check.older_than:
        parts.append(f"for over {check.older_than}")
    if check.application_name:
        parts.append(f"from {', '.join(check.application_name)}")
    if check.users:
        parts.append(f"of user {', '.join(check.users)}")
    if check.databases:
        parts.append(f"on {', '.join(check.databases)}")
    return " ".join(parts) or "(all)"


@pytest.mark.kind("pg_long_queries")
@pytest.mark.severity("medium")
def test_pg_long_queries(check: PgLongQueriesCheck, observation: PgSlowest) -> None:
    measure = (
        "slowest mean statement time"
        if observation.source == "pg_stat_statements"
        else ("longest running query")
    )
    judge(
        f"postgres {observation.target}: {measure} [{observation.detail}]",
        observation.seconds,
        _with_unit(check.bands, "s"),
    )


@pytest.mark.kind("pg_database_size")
@pytest.mark.severity("medium")
def test_pg_database_size(check: PgDatabaseSizeCheck, observation: PgSize) -> None:
    size = observation.size_bytes / _SIZE_UNITS[check.unit]
    judge(
        f"postgres {observation.target}: database {observation.database} size",
        size,
        _with_unit(check.bands, f" {check.unit}"),
    )


@pytest.mark.kind("pg_replication_lag")
@pytest.mark.severity("high")
def test_pg_replication_lag(check: PgReplicationLagCheck, observation: PgReplication) -> None:
    what = f"postgres {observation.target}"
    if observation.role == "primary":
        streaming = [r for r in observation.replicas if r.state == "streaming"]
        if len(streaming) < check.min_replicas:
            states = ", ".join(f"{r.name} {r.state}" for r in observation.replicas)
            fail(
                f"{what}: {len(streaming)} replica(s) streaming ({states}),"
                f" expected >= {check.min_replicas}",
                observed=len(streaming),
                expected=f">= {check.min_replicas} streaming",
            )
    worst = observation.worst(check.measure)
    value = worst.seconds if check.measure == "seconds" else worst.lag_bytes
    unit = "s" if check.measure == "seconds" else " bytes"
    judge(f"{what}: replication lag of {worst.name}", value, _with_unit(check.bands, unit))


@pytest.mark.kind("pg_table_recency")
@pytest.mark.severity("high")
def test_pg_table_recency(check: PgTableRecencyCheck, observation: PgRecency) -> None:
    what = f"postgres {observation.target}: newest {observation.table}.{observation.column}"
    if observation.age_seconds is None:
        fail(
            f"{what}: the table has no rows",
            observed="no rows",
            expected=f"a row younger than {check.max_age}",
        )
    age = observation.age_seconds
    for band, limit in (("crit", check.max_age), ("warn", check.warn_age)):
        if limit is not None and age > duration_seconds(limit):
            fail(
                f"{what} ({observation.newest}) is {age_text(age)} old > {band} {limit}",
                observed=age_text(age),
                expected=f"<= {limit}",
                band=band,  # type: ignore[arg-type]
            )


@pytest.mark.kind("pg_setting")
@pytest.mark.severity("medium")
def test_pg_setting(check: PgSettingCheck, observation: PgSetting) -> None:
    what = f"postgres {observation.target}: {observation.name}"
    if not _same(check.expected, observation):
        pending = ""
        if observation.pending_restart:
            waiting = observation.pending_value or "a new value"
            pending = f"; {waiting} is set but waits for a server restart"
        fail(
            f"{what} = {observation.shown}, expected {check.expected}{pending}",
            observed=observation.shown,
            expected=check.expected,
        )
    if observation.pending_restart:
        fail(
            f"{what} = {observation.shown} but a changed value"
            f" ({observation.pending_value or 'unknown'}) waits for a server restart",
            observed=f"{observation.shown} (pending restart)",
            expected=check.expected,
            band="warn",
        )


def _same(expected: str | int | float | bool, observation: PgSetting) -> bool:
    values = {observation.value.lower(), observation.shown.lower()}
    if isinstance(expected, bool):
        return (observation.value.lower() in _TRUE) == expected
    if isinstance(expected, int | float):
        try:
            return float(observation.value) == float(expected)
        except ValueError:
            return False
    return expected.lower() in values


@pytest.mark.kind("pg_query")
@pytest.mark.severity("medium")
def test_pg_query(check: PgQueryCheck, observation: PgValue) -> None:
    label = check.label or "query result"
    judge(f"postgres {observation.target}: {label}", observation.value, check.bands)


def _with_unit(bands: Bands, unit: str) -> Bands:
    return bands if bands.unit else bands.model_copy(update={"unit": unit})
