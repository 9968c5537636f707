"""PostgreSQL checks against a real PostgreSQL 15, started and seeded by the demo's part.

The server has pg_stat_statements loaded, password (scram) logins for every role but the
local superuser, and the Aegis audit tables. One Vigil run covers the healthy server, one
the faults (connections filled with the launcher's ``fill_connections``, a transaction left
open, a query that keeps running, slow statements, a stale table, a setting waiting for a
restart), one the stopped server. Direct probe calls cover what a run cannot stage: the
server stopping mid-session under a shared session, and a server out of connection slots.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fixtures.http import HttpClient
from fixtures.observe import ObservationError, Observer
from fixtures.postgres import PgConnections
from fixtures.probes import ProbeContext, probe_for
from plugins.schema import Environment
from testbed.parts.postgres import DemoPostgres, inject_faults, launch, seed
from tests.support import VigilRun, run_vigil

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 30
WRONG_PASSWORD = "not-the-password-7f3a9c"


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPostgres]:
    demo = launch(max_connections=MAX_CONNECTIONS, workdir=tmp_path_factory.mktemp("pg"))
    seed(demo)
    yield demo
    demo.stop()


def main_dsn(pg: DemoPostgres) -> str:
    """The monitoring role's DSN with its password inside, as users often write it."""
    return pg.dsn("vigil", "aegis_db")


def environment(pg: DemoPostgres, checks: dict[str, Any]) -> dict[str, Any]:
    server = pg.server
    return {
        "name": "postgres-test",
        "postgres": {
            "main": {"dsn": main_dsn(pg)},
            "wrong-password": {
                "dsn": f"host={server.host} port={server.port} dbname=aegis_db user=vigil",
                "password": WRONG_PASSWORD,
            },
        },
        "checks": checks,
    }


CHECKS: dict[str, Any] = {
    "ready": {"kind": "pg_ready", "target": "main", "latency_ms": {"crit": 2000}},
    "connections": {"kind": "pg_connections", "target": "main", "bands": {"warn": 50, "crit": 75}},
    "idle-in-transaction": {
        "kind": "pg_connection_states",
        "target": "main",
        "state": ["idle in transaction"],
        "bands": {"crit": 0},
    },
    "running-queries": {
        "kind": "pg_long_queries",
        "target": "main",
        "source": "activity",
        "bands": {"warn": 1, "crit": 2},
    },
    "slow-statements": {
        "kind": "pg_long_queries",
        "target": "main",
        "source": "statements",
        "min_calls": 5,
        "bands": {"warn": 0.1, "crit": 0.2},
    },
    "size": {"kind": "pg_database_size", "target": "main", "unit": "MB", "bands": {"crit": 500}},
    "replication": {"kind": "pg_replication_lag", "target": "main", "bands": {"crit": 30}},
    "audit-recent": {
        "kind": "pg_table_recency",
        "target": "main",
        "table": "public.action_audit_logs",
        "column": "created_at",
        "max_age": "1h",
    },
    "max-connections": {
        "kind": "pg_setting",
        "target": "main",
        "setting": "max_connections",
        "expected": MAX_CONNECTIONS,
    },
    "shared-buffers": {
        "kind": "pg_setting",
        "target": "main",
        "setting": "shared_buffers",
        "expected": "256MB",
    },
    "policy-tamper": {
        "kind": "pg_query",
        "target": "main",
        "query": "SELECT count(*) FROM policy_changes"
        " WHERE changed_at > now() - interval '7 days' AND coalesce(btrim(change_ticket), '') = ''",
        "label": "policy changes without a change ticket",
        "bands": {"crit": 0},
        "severity": "high",
    },
    "audit-rows": {
        "kind": "pg_query",
        "target": "main",
        "query": "SELECT count(*) FROM action_audit_logs",
        "label": "audit rows",
        "bands": {"crit": 100, "direction": "below"},
    },
    "missing-table": {
        "kind": "pg_table_recency",
        "target": "main",
        "table": "public.no_such_table",
        "column": "created_at",
        "max_age": "1h",
    },
    "bad-password": {"kind": "pg_ready", "target": "wrong-password"},
}


def assert_no_secrets(run: VigilRun, reports: Path, secrets: list[str]) -> None:
    texts = [run.output] + [
        p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()
    ]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"a secret leaked: {secret[:4]}..."


def test_healthy_server_passes_and_errors_say_why(pg: DemoPostgres, tmp_path: Path) -> None:
    run = run_vigil(tmp_path, environment(pg, CHECKS))
    healthy = [
        name for name in CHECKS if name not in ("replication", "missing-table", "bad-password")
    ]
    outcomes = {name: run.result(name)["outcome"] for name in healthy}
    assert outcomes == dict.fromkeys(healthy, "passed"), run.output[-3000:]
    replication = run.result("replication")
    assert replication["outcome"] == "error"
    assert "no replica configured" in replication["message"]
    assert run.result("missing-table")["outcome"] == "error"
    assert (
        'relation "public.no_such_table" does not exist' in run.result("missing-table")["message"]
    )
    bad = run.result("bad-password")
    assert bad["outcome"] == "error"
    assert "authentication failed" in bad["message"]
    assert_no_secrets(run, tmp_path / "reports", [pg.passwords["vigil"], WRONG_PASSWORD])
    assert main_dsn(pg) not in run.output


@pytest.fixture
def faults(pg: DemoPostgres) -> Iterator[None]:
    """Fill connections, open a transaction, run a long query, age the audit rows, ..."""
    app = f"{pg.dsn('aegis_user', 'aegis_db')}"
    with pg.admin("aegis_db") as admin:
        for _ in range(5):
            admin.execute("SELECT pg_sleep(0.3)")
        admin.execute("UPDATE action_audit_logs SET created_at = created_at - interval '3 hours'")
        admin.execute("ALTER SYSTEM SET max_connections = 40")
        admin.execute("SELECT pg_reload_conf()")
    idle = psycopg.connect(f"{app} application_name=api")
    idle.execute("SELECT 1")  # not autocommit: the transaction stays open
    sleeper = psycopg.connect(f"{app} application_name=bridge", autocommit=True)
    thread = threading.Thread(target=_sleep, args=(sleeper,), daemon=True)
    thread.start()
    with pg.server.fill_connections(MAX_CONNECTIONS - 8):
        time.sleep(2.5)  # the query must have run past the 2 s bound
        yield
    sleeper.cancel()
    thread.join(timeout=5)
    for conn in (idle, sleeper):
        conn.close()
    with pg.admin("aegis_db") as admin:
        admin.execute("UPDATE action_audit_logs SET created_at = created_at + interval '3 hours'")
        admin.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        admin.execute("SELECT pg_reload_conf()")
        admin.execute("SELECT pg_stat_statements_reset()")


def _sleep(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.execute("SELECT pg_sleep(60)")
    except psycopg.errors.QueryCanceled:
        return


def test_faults_fail_with_severity_and_the_number(
    pg: DemoPostgres, faults: None, tmp_path: Path
) -> None:
    names = [
        "ready",
        "connections",
        "idle-in-transaction",
        "running-queries",
        "slow-statements",
        "audit-recent",
        "max-connections",
    ]
    run = run_vigil(tmp_path, environment(pg, {n: CHECKS[n] for n in names}))
    assert run.result("ready")["outcome"] == "passed", run.output[-3000:]

    connections = run.result("connections")
    assert (connections["outcome"], connections["severity"]) == ("failed", "high")
    assert re.search(
        r"max_connections used \(2[4-6]/30\) = 8\d(\.\d)?% > crit 75%", connections["message"]
    )

    idle = run.result("idle-in-transaction")
    assert (idle["outcome"], idle["severity"]) == ("failed", "medium")
    assert "sessions idle in transaction" in idle["message"] and "= 1 > crit 0" in idle["message"]

    running = run.result("running-queries")
    assert running["outcome"] == "failed"
    assert (
        "longest running query" in running["message"] and "application bridge" in running["message"]
    )
    assert "> crit 2s" in running["message"]

    slow = run.result("slow-statements")
    assert slow["outcome"] == "failed"
    assert "slowest mean statement time" in slow["message"] and "pg_sleep" in slow["message"]

    stale = run.result("audit-recent")
    assert (stale["outcome"], stale["severity"]) == ("failed", "high")
    assert "newest public.action_audit_logs.created_at" in stale["message"]
    assert re.search(r"is 3h \dm old > crit 1h$", stale["message"]), stale["message"]

    setting = run.result("max-connections")
    assert setting["outcome"] == "failed"
    assert "waits for a server restart" in setting["message"]
    assert_no_secrets(run, tmp_path / "reports", [pg.passwords["vigil"]])


def test_unexplained_policy_change_and_tuning_drift_fail(pg: DemoPostgres, tmp_path: Path) -> None:
    drift = {**CHECKS["shared-buffers"], "expected": "512MB"}
    inject_faults(pg, {"unexplained_policy_change": True})
    try:
        run = run_vigil(
            tmp_path,
            environment(pg, {"policy-tamper": CHECKS["policy-tamper"], "buffers-drift": drift}),
        )
    finally:
        with pg.admin("aegis_db") as admin:
            admin.execute("DELETE FROM policy_changes WHERE change_ticket IS NULL")
    tamper = run.result("policy-tamper")
    assert (tamper["outcome"], tamper["severity"]) == ("failed", "high"), tamper
    assert tamper["message"].endswith("policy changes without a change ticket = 1 > crit 0")
    buffers = run.result("buffers-drift")
    assert buffers["outcome"] == "failed"
    assert buffers["message"] == "postgres main: shared_buffers = 256MB, expected 512MB"


def probe_context(pg: DemoPostgres) -> ProbeContext:
    env = Environment.model_validate(environment(pg, CHECKS))
    return ProbeContext(env=env, observer=Observer(), http=HttpClient({}))


def observe(ctx: ProbeContext, name: str) -> Any:
    check = ctx.env.checks[name]
    return ctx.observer.call(lambda: probe_for(check)(check, ctx), timeout=15)


def test_server_stopped_mid_session_is_connection_refused(pg: DemoPostgres) -> None:
    ctx = probe_context(pg)
    try:
        before = observe(ctx, "connections")
        assert isinstance(before, PgConnections) and before.maximum == MAX_CONNECTIONS
        pg.server.stop()
        try:
            with pytest.raises(ObservationError) as stopped:
                observe(ctx, "connections")  # the shared session breaks, then reconnecting fails
        finally:
            pg.server.start()
        assert stopped.value.reason == f"postgres main: connection refused ({pg.server.address})"
        again = observe(ctx, "connections")
        assert isinstance(again, PgConnections)
    finally:
        ctx.observer.close()


def test_out_of_connection_slots_fails_readiness_and_connections(
    pg: DemoPostgres, tmp_path: Path
) -> None:
    # Superusers take every slot but the reserved ones: the monitoring role is turned away,
    # which is itself the exhaustion these checks look for (a failure, not an error).
    with pg.server.fill_connections(MAX_CONNECTIONS - 3):
        run = run_vigil(tmp_path, environment(pg, {n: CHECKS[n] for n in ("ready", "connections")}))
    ready = run.result("ready")
    assert (ready["outcome"], ready["severity"]) == ("failed", "critical"), run.output[-2000:]
    assert "not accepting queries: too many clients (only reserved slots left)" in ready["message"]
    connections = run.result("connections")
    assert (connections["outcome"], connections["severity"]) == ("failed", "high")
    assert "new ones refused: too many clients" in connections["message"]
    assert connections["message"].endswith("= 100% > crit 75%")


def test_stopped_server_is_an_error_with_the_check_severity(
    pg: DemoPostgres, tmp_path: Path
) -> None:
    pg.server.stop()
    try:
        run = run_vigil(
            tmp_path, environment(pg, {n: CHECKS[n] for n in ("ready", "connections", "size")})
        )
    finally:
        pg.server.start()
    refused = f"cannot observe: postgres main: connection refused ({pg.server.address})"
    expected = {"ready": "critical", "connections": "high", "size": "medium"}
    for name, severity in expected.items():
        result = run.result(name)
        assert (result["outcome"], result["severity"], result["message"]) == (
            "error",
            severity,
            refused,
        )
