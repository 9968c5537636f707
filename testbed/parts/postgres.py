"""Real PostgreSQL for the demo, seeded like the seed systems' databases (testbed setup).

The cluster loads pg_stat_statements and has the roles production would have: ``vigil``
(pg_monitor, what the checks log in as), ``vigil_restore`` (CREATEDB, for restore tests),
and the applications' owners ``aegis_user`` and ``aureus``. Everyone but the local
superuser authenticates with a password (scram-sha-256). The audit tables hold recent
rows. ``testbed.options.postgres`` sets ``max_connections`` and the degraded demo's faults:
``hold_connections``, ``idle_in_transaction``, ``long_query_seconds``,
``pending_max_connections``, ``stale_audit_hours``, ``unexplained_policy_change``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from testbed.demo import RunningTestbed, TestbedError
from testbed.services import PostgresServer, ServiceStartError, start_postgres

logger = logging.getLogger(__name__)

ROLES = {
    "vigil": "LOGIN IN ROLE pg_monitor",
    "vigil_restore": "LOGIN CREATEDB",
    "aegis_user": "LOGIN",
    "aureus": "LOGIN",
}
# The superuser keeps trust on loopback for testbed setup; every other role needs its password.
PG_HBA = """\
# Written by the Vigil demo testbed.
host all postgres 127.0.0.1/32 trust
host all all      127.0.0.1/32 scram-sha-256
"""
AEGIS_SCHEMA = """
CREATE TABLE action_audit_logs (
    id bigserial PRIMARY KEY, action_type text NOT NULL, namespace text NOT NULL,
    resource_name text NOT NULL, status text NOT NULL, result text, error text,
    requested_by text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX action_audit_logs_created_at ON action_audit_logs (created_at);
CREATE TABLE policy_audit_logs (
    id bigserial PRIMARY KEY, requested_by text NOT NULL, action text NOT NULL,
    resource text NOT NULL, decision text NOT NULL CHECK (decision IN ('ALLOW', 'DENY')),
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE audit_events (
    id bigserial PRIMARY KEY, event_type text NOT NULL, actor text NOT NULL,
    source_ip inet NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE policy_changes (
    id bigserial PRIMARY KEY, policy_name text NOT NULL, changed_by text NOT NULL,
    change_ticket text, changed_at timestamptz NOT NULL DEFAULT now());
GRANT SELECT ON action_audit_logs, policy_audit_logs, audit_events, policy_changes TO vigil;
"""
# One action every 3 minutes over the last day, the newest a minute old (plus any shift);
# %% is the modulo operator, escaped because the statements take parameters.
AEGIS_ROWS = """
INSERT INTO action_audit_logs
    (action_type, namespace, resource_name, status, result, requested_by, created_at)
SELECT (ARRAY['restart', 'scale', 'rollback'])[1 + g %% 3],
       (ARRAY['aegis', 'aegis-workloads'])[1 + g %% 2],
       'deployment/' || (ARRAY['backend', 'ai-engine', 'executor'])[1 + g %% 3],
       CASE WHEN g %% 17 = 0 THEN 'failed' ELSE 'succeeded' END, 'ok',
       (ARRAY['alice@aegis.example', 'bob@aegis.example', 'executor'])[1 + g %% 3],
       now() - make_interval(mins => 1 + 3 * g) - %(shift)s::float8 * interval '1 hour'
FROM generate_series(0, 479) AS g;
INSERT INTO policy_audit_logs (requested_by, action, resource, decision, created_at)
SELECT (ARRAY['alice@aegis.example', 'executor'])[1 + g %% 2], 'execute',
       'deployment/backend', CASE WHEN g %% 9 = 0 THEN 'DENY' ELSE 'ALLOW' END,
       now() - make_interval(mins => 2 + 5 * g) - %(shift)s::float8 * interval '1 hour'
FROM generate_series(0, 287) AS g;
INSERT INTO audit_events (event_type, actor, source_ip, created_at)
SELECT 'login', (ARRAY['alice@aegis.example', 'bob@aegis.example'])[1 + g %% 2],
       (ARRAY['10.20.0.15', '10.20.0.16'])[1 + g %% 2]::inet,
       now() - make_interval(mins => 7 + 30 * g) - %(shift)s::float8 * interval '1 hour'
FROM generate_series(0, 47) AS g;
INSERT INTO policy_changes (policy_name, changed_by, change_ticket, changed_at)
SELECT (ARRAY['restart-allowed', 'scale-limits'])[1 + g %% 2], 'alice@aegis.example',
       'CHG-' || (1000 + g), now() - make_interval(hours => 3 + 20 * g)
FROM generate_series(0, 5) AS g;
"""
# An edit of a policy outside change control: who made it is known, why is not.
UNEXPLAINED_POLICY_CHANGE = (
    "INSERT INTO policy_changes (policy_name, changed_by, change_ticket, changed_at)"
    " VALUES ('restart-allowed', 'unknown@aegis.example', NULL, now() - interval '10 minutes')"
)
AUREUS_SCHEMA = """
CREATE TABLE signatures (
    id bigserial PRIMARY KEY, name text NOT NULL, pattern text NOT NULL,
    severity text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO signatures (name, pattern, severity, created_at)
SELECT 'sig-' || g, 'rule-' || md5(g::text), (ARRAY['low', 'medium', 'high'])[1 + g % 3],
       now() - make_interval(hours => g)
FROM generate_series(1, 1200) AS g;
"""


@dataclass
class DemoPostgres:
    """The started server, its roles' passwords, and the connections a fault holds open."""

    server: PostgresServer
    workdir: Path
    passwords: dict[str, str]
    held: list[psycopg.Connection[Any]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def dsn(self, user: str, dbname: str) -> str:
        """A DSN with the role's password (for testbed use only, never in a report)."""
        return (
            f"host={self.server.host} port={self.server.port} dbname={dbname} user={user}"
            f" password={self.passwords[user]} connect_timeout=5"
        )

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.server.dsn.replace("dbname=postgres", f"dbname={dbname}"), autocommit=True
        )

    def stop(self) -> None:
        for conn in self.held:
            conn.cancel()
        for thread in self.threads:
            thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    options = dict((spec.get("options") or {}).get("postgres") or {})
    demo = launch(max_connections=int(options.get("max_connections", 200)))
    running.stoppers.append(demo.stop)
    seed(demo, stale_hours=float(options.get("stale_audit_hours", 0)))
    inject_faults(demo, options)
    running.variables.update(
        {
            "PG_HOST": demo.server.host,
            "PG_PORT": str(demo.server.port),
            "PG_MONITOR_PASSWORD": demo.passwords["vigil"],
            "PG_RESTORE_PASSWORD": demo.passwords["vigil_restore"],
            "PG_AEGIS_PASSWORD": demo.passwords["aegis_user"],
        }
    )


def launch(max_connections: int = 200, workdir: Path | None = None) -> DemoPostgres:
    """Start a cluster with pg_stat_statements loaded, the roles, and password auth."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="vigil-demo-pg-"))
    try:
        server = start_postgres(workdir)
    except ServiceStartError as problem:
        shutil.rmtree(workdir, ignore_errors=True)
        raise TestbedError(f"postgres: {problem.reason}") from None
    demo = DemoPostgres(server, workdir, {role: secrets.token_urlsafe(18) for role in ROLES})
    try:
        with demo.admin() as conn:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            # AEGIS-C's tuning step (ALTER SYSTEM SET shared_buffers = '256MB'), applied.
            conn.execute("ALTER SYSTEM SET shared_buffers = '256MB'")
            # In the configuration, not on the command line, as in production: a later
            # ALTER SYSTEM then really waits for a restart.
            conn.execute(
                sql.SQL("ALTER SYSTEM SET max_connections = {}").format(int(max_connections))
            )
        server.restart()
        with demo.admin() as conn:
            for role, attributes in ROLES.items():
                conn.execute(
                    sql.SQL("CREATE ROLE {} " + attributes + " PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(demo.passwords[role])
                    )
                )
            (server.data_dir / "pg_hba.conf").write_text(PG_HBA, encoding="utf-8")
            conn.execute("SELECT pg_reload_conf()")
    except (psycopg.Error, ServiceStartError) as problem:
        demo.stop()
        raise TestbedError(f"postgres: setup failed: {problem}") from None
    return demo


def seed(demo: DemoPostgres, stale_hours: float = 0.0) -> None:
    """The aegis and aureus databases with their tables and recent rows."""
    with demo.admin() as conn:
        conn.execute("CREATE DATABASE aegis_db OWNER aegis_user")
        conn.execute("CREATE DATABASE aureus OWNER aureus")
    with demo.admin("aegis_db") as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("SET ROLE aegis_user")
        conn.execute(AEGIS_SCHEMA)
        for statement in AEGIS_ROWS.split(";")[:-1]:
            # Parameters bind per statement (the extended protocol takes one at a time).
            conn.execute(statement.encode(), {"shift": stale_hours})
        conn.execute("ANALYZE")
    with demo.admin("aureus") as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("SET ROLE aureus")
        conn.execute(AUREUS_SCHEMA)
    logger.info("postgres demo seeded on %s", demo.server.address)


def inject_faults(demo: DemoPostgres, options: Mapping[str, Any]) -> None:
    """Hold connections, leave transactions open, run a long query, half-apply a setting."""
    for _ in range(int(options.get("hold_connections", 0))):
        demo.held.append(_app_connection(demo, "bridge"))
    for _ in range(int(options.get("idle_in_transaction", 0))):
        conn = _app_connection(demo, "api")
        conn.autocommit = False
        conn.execute("SELECT count(*) FROM action_audit_logs")
        demo.held.append(conn)
    seconds = int(options.get("long_query_seconds", 0))
    if seconds:
        conn = _app_connection(demo, "bridge")
        demo.held.append(conn)
        thread = threading.Thread(target=_sleep_query, args=(conn, seconds), daemon=True)
        thread.start()
        demo.threads.append(thread)
    pending = options.get("pending_max_connections")
    if pending is not None:
        # The Aureus runbook's way: ALTER SYSTEM and a reload, which max_connections ignores.
        with demo.admin() as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET max_connections = {}").format(int(pending)))
            conn.execute("SELECT pg_reload_conf()")
    if options.get("unexplained_policy_change"):
        with demo.admin("aegis_db") as conn:
            conn.execute(UNEXPLAINED_POLICY_CHANGE)


def _app_connection(demo: DemoPostgres, application: str) -> psycopg.Connection[Any]:
    dsn = f"{demo.dsn('aegis_user', 'aegis_db')} application_name={application}"
    return psycopg.connect(dsn, autocommit=True)


def _sleep_query(conn: psycopg.Connection[Any], seconds: int) -> None:
    try:
        conn.execute("SELECT pg_sleep(%s)", (seconds,))
    except psycopg.Error as problem:
        logger.debug("long demo query ended: %s", type(problem).__name__)
