"""Backup checks against real dump trees and a real PostgreSQL 15 for the restore tests.

The demo's ``backups`` part writes the tree from real pg_dump/pg_dumpall output of the
seeded demo cluster; the demo part's own checks (environments/parts/demo-backups.yaml)
then run against a healthy tree and a damaged one: a corrupt tar.gz, a truncated
pg_dumpall script, a dump whose checksum no longer matches, backups that stopped three
days ago, cleanup that stopped (too many), a missing file. Last, the demo's database and
backup parts run end to end from the testbed, healthy and degraded.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.backups import restorable_lines, verify_file
from testbed.parts.backups import Dumps, build, corrupt, take_dumps
from testbed.parts.postgres import DemoPostgres, launch, seed
from tests.support import ROOT, VigilRun, run_vigil

pytestmark = pytest.mark.integration

PARTS = ROOT / "environments" / "parts"
# The runbook's verification loop (seed 004, daily-backup.sh), verbatim.
RUNBOOK_LOOP = """
for file in "$BACKUP_DIR"/*.tar.gz; do
    if tar -tzf "$file" > /dev/null 2>&1; then
        echo "✓ $file - OK"
    else
        echo "✗ $file - CORRUPTED"
    fi
done
"""


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPostgres]:
    demo = launch(max_connections=30, workdir=tmp_path_factory.mktemp("pg"))
    seed(demo)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def dumps(pg: DemoPostgres) -> Dumps:
    return take_dumps(pg.server.host, pg.server.port)


def variables(pg: DemoPostgres, root: Path) -> dict[str, str]:
    return {
        "BACKUP_ROOT": str(root),
        "PG_HOST": pg.server.host,
        "PG_PORT": str(pg.server.port),
        "PG_RESTORE_PASSWORD": pg.passwords["vigil_restore"],
    }


def run_demo_part(
    pg: DemoPostgres, root: Path, directory: Path, extra: dict[str, Any] | None = None
) -> VigilRun:
    environment = {"name": "backups-test", "extends": [str(PARTS / "demo-backups.yaml")]}
    return run_vigil(directory, {**environment, **(extra or {})}, extra_env=variables(pg, root))


def scratch_databases(pg: DemoPostgres) -> list[str]:
    with pg.admin() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'vigil_restore_%'")
        return [str(row[0]) for row in rows.fetchall()]


def test_healthy_tree_passes_every_demo_check(
    pg: DemoPostgres, dumps: Dumps, tmp_path: Path
) -> None:
    root = build(tmp_path / "backups", dumps)
    run = run_demo_part(pg, root, tmp_path)
    assert run.summary["checks"], run.output[-3000:]
    assert {c["check"]: c["outcome"] for c in run.summary["checks"]} == {
        c["check"]: "passed" for c in run.summary["checks"]
    }, run.output[-3000:]
    demo_checks = yaml.safe_load((PARTS / "demo-backups.yaml").read_text())["checks"]
    assert len(run.summary["checks"]) == len(demo_checks)
    assert scratch_databases(pg) == []
    assert pg.passwords["vigil_restore"] not in run.output


FAULTS = [
    "stale",
    "checksum_mismatch",
    "corrupt_archive",
    "truncated_dump",
    "retention_broken",
    "missing_file",
]
EXTRA: dict[str, Any] = {
    "backups": {
        "binary-by-mtime": {
            "path": "${BACKUP_ROOT}/bin",
            "pattern": "anomaly_detector.backup-*",
            "date_format": None,
        },
        "nowhere": {"path": "${BACKUP_ROOT}/no-such-dir"},
        "sql-without-manifest": {
            "path": "${BACKUP_ROOT}/aegis-c",
            "pattern": "backup_*.sql",
            "manifest": "SHA256SUMS",
        },
    },
    "postgres": {
        "read-only": {
            "dsn": "host=${PG_HOST} port=${PG_PORT} dbname=postgres user=vigil_restore",
            "password": "${PG_RESTORE_PASSWORD}",
        }
    },
    "checks": {
        "binary-aged": {"kind": "backup_freshness", "backups": "binary-by-mtime", "max_age": "24h"},
        "missing-directory": {"kind": "backup_freshness", "backups": "nowhere", "max_age": "1d"},
        "manifest-missing": {"kind": "backup_integrity", "backups": "sql-without-manifest"},
        "restore-not-allowed": {
            "kind": "backup_restore",
            "backups": "aegis",
            "postgres": "read-only",
            "verify": [{"query": "SELECT 1"}],
        },
    },
}


@pytest.fixture
def damaged(dumps: Dumps, tmp_path: Path) -> Path:
    root = build(tmp_path / "backups", dumps, faults=FAULTS)
    aged = time.time() - 3 * 86400
    for binary in (root / "bin").iterdir():
        os.utime(binary, (aged, aged))
    return root


def test_damaged_tree_fails_each_check_with_what_is_wrong(
    pg: DemoPostgres, damaged: Path, tmp_path: Path
) -> None:
    run = run_demo_part(pg, damaged, tmp_path, EXTRA)

    def failed(name: str, severity: str, *phrases: str) -> None:
        result = run.result(name)
        assert (result["outcome"], result["severity"]) == ("failed", severity), result
        for phrase in phrases:
            assert phrase in result["message"], (phrase, result["message"])

    failed("aegis-backup-freshness", "high", "newest backup", "old > crit 25h")
    failed("aegis-backup-retention", "medium", "4 backups kept", "policy keeps exactly 7 (too few)")
    # Whether pg_restore also notices 64 flipped bytes depends on where they land in this
    # run's dump (its size varies); the manifest always does.
    failed("aegis-backup-integrity", "high", "sha256 does not match SHA256SUMS")
    failed("aegis-restore-test", "high", "into restore-scratch failed: pg_restore")
    failed("detector-daily-backup-integrity", "high", "/data.tar.gz: corrupt (")
    failed("detector-daily-backup-present", "high", "is incomplete: missing logs.tar.gz")
    failed("detector-backup-retention", "medium", "40 backups kept", "(too many")
    failed(
        "aureus-pre-maintenance-backup-verified",
        "high",
        "truncated pg_dump script (no 'dump complete' line at the end)",
    )
    failed("aureus-restore-verification", "high", "restore of")
    failed("binary-aged", "high", "newest backup anomaly_detector.backup-", "is 3d old > crit 24h")
    assert run.result("detector-binary-backup")["outcome"] == "passed"  # its name is today's
    failed("manifest-missing", "high", "SHA256SUMS: manifest missing")
    missing = run.result("missing-directory")
    assert missing["outcome"] == "error" and "no-such-dir does not exist" in missing["message"]
    refused = run.result("restore-not-allowed")
    assert refused["outcome"] == "error"
    assert "does not allow restore tests (set scratch_restore: true)" in refused["message"]
    assert scratch_databases(pg) == []


def test_the_runbook_loop_passes_a_corrupt_archive_that_vigil_fails(damaged: Path) -> None:
    newest = sorted((damaged / "anomaly-detector" / "daily").iterdir())[-1]
    done = subprocess.run(
        ["bash", "-c", RUNBOOK_LOOP],
        env={**os.environ, "BACKUP_DIR": str(newest)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0  # the runbook's script reports success ...
    assert "data.tar.gz - CORRUPTED" in done.stdout  # ... after printing the damage


def test_a_cluster_dump_restores_only_the_database_asked_for() -> None:
    script = (
        b"--\n-- PostgreSQL database cluster dump\n--\nCREATE ROLE intruder;\n"
        b"\\connect template1\nSELECT 'template1';\n"
        b"CREATE DATABASE aureus;\n\\connect aureus\nCREATE TABLE signatures (id int);\n"
        b"ALTER TABLE public.signatures OWNER TO aureus;\n"
        b"COPY public.signatures (id) FROM stdin;\n1\nGRANT not a statement\n\\.\n"
        b"GRANT SELECT ON TABLE public.signatures TO PUBLIC;\n"
        b"\\connect postgres\nDROP TABLE precious;\n"
    )
    kept = b"".join(restorable_lines(io.BytesIO(script), "aureus", []))
    assert kept == (
        b"CREATE TABLE signatures (id int);\n"
        b"COPY public.signatures (id) FROM stdin;\n1\nGRANT not a statement\n\\.\n"
    )
    with pytest.raises(ValueError, match="'missing' is not in the pg_dumpall script"):
        b"".join(restorable_lines(io.BytesIO(script), "missing", []))


def test_a_script_with_a_shell_escape_is_refused() -> None:
    script = b"CREATE TABLE t (id int);\n\\! touch /tmp/owned\n"
    with pytest.raises(ValueError, match=r"meta-command pg_dump does not write: \\!"):
        b"".join(restorable_lines(io.BytesIO(script), None, []))


def test_demo_parts_from_the_testbed_healthy_and_degraded(tmp_path: Path) -> None:
    parts = [str(PARTS / f"demo-{name}.yaml") for name in ("databases", "backups")]
    testbed = {"start": ["postgres", "redis", "backups"]}
    (tmp_path / "healthy").mkdir()
    healthy = run_vigil(
        tmp_path / "healthy", {"name": "demo-parts", "extends": parts, "testbed": testbed}
    )
    outcomes = healthy.outcomes()
    assert outcomes and set(outcomes.values()) == {"passed"}, healthy.output[-3000:]
    (tmp_path / "degraded").mkdir()
    degraded_parts = [str(PARTS / f"demo-degraded-{n}.yaml") for n in ("databases", "backups")]
    degraded = run_vigil(
        tmp_path / "degraded",
        {"name": "demo-degraded-parts", "extends": parts + degraded_parts, "testbed": testbed},
    )
    failed = {name for name, outcome in degraded.outcomes().items() if outcome == "failed"}
    assert {
        "aureus-connection-count",
        "aureus-max-connections",
        "aegis-shutdown-no-db-writers",
        "aegis-redis-memory",
        "aegis-redis-evictions",
        "aegis-backup-freshness",
        "aegis-backup-retention",
        "detector-daily-backup-integrity",
        "detector-backup-retention",
        "aureus-pre-maintenance-backup-verified",
        "aureus-restore-verification",
    } <= failed, degraded.output[-3000:]
    assert "error" not in degraded.outcomes().values(), degraded.output[-3000:]


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.bz2", ".tar.xz", ".gz"])
def test_each_archive_format_reads_whole_and_damage_is_named(tmp_path: Path, suffix: str) -> None:
    content = os.urandom(64 * 1024)  # incompressible: damage lands in the data
    path = tmp_path / f"backup{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.bin", content)
    elif suffix == ".gz":
        path.write_bytes(gzip.compress(content))
    else:
        mode = {".tar": "w", ".tar.bz2": "w:bz2", ".tar.xz": "w:xz"}[suffix]
        with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
            info = tarfile.TarInfo("data.bin")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    deadline = time.monotonic() + 30
    assert verify_file(path, deadline)[1] is None
    if suffix == ".tar":
        path.write_bytes(path.read_bytes()[: 20 * 1024])  # a plain tar can only be cut short
    else:
        corrupt(path)
    kind, problem = verify_file(path, deadline)
    assert problem is not None and problem.startswith(("corrupt (", "an archive")), (kind, problem)
