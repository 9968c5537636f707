"""Release-time checks: compose config validation (stand-in CLI) and a pre-deploy snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.release_files import build_release_files
from tests.support import run_vigil


def _env(variables: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "release",
        "backups": {
            "snapshots": {
                "path": variables["HOSTFILES_SNAPSHOT_DIR"],
                "pattern": "deployments-*.yaml",
                "date_format": "%Y%m%d-%H%M%S",
                "timezone": "utc",
            },
        },
        "checks": {
            "compose-config": {
                "kind": "config_validate",
                "command": [
                    variables["HOSTFILES_COMPOSE_CLI"],
                    "-f",
                    "docker-compose.yml",
                    "--env-file",
                    ".env.production",
                    "config",
                    "-q",
                ],
                "cwd": variables["HOSTFILES_COMPOSE_DIR"],
                "severity": "high",
            },
            "snapshot": {"kind": "backup_freshness", "backups": "snapshots", "max_age": "1h"},
        },
    }


def test_complete_env_file_validates_and_a_fresh_snapshot_passes(tmp_path: Path) -> None:
    variables = build_release_files(tmp_path / "root")
    result = run_vigil(tmp_path, _env(variables), "-p", "no:html")
    assert result.outcomes() == {"compose-config": "passed", "snapshot": "passed"}, result.output[
        -2000:
    ]


def test_missing_mandatory_variable_fails_and_names_it(tmp_path: Path) -> None:
    variables = build_release_files(tmp_path / "root", compose_env_complete=False)
    for old in Path(variables["HOSTFILES_SNAPSHOT_DIR"]).iterdir():
        old.unlink()  # no snapshot was taken before this deploy
    result = run_vigil(tmp_path, _env(variables), "-p", "no:html")
    compose = result.result("compose-config")
    assert (compose["outcome"], compose["severity"]) == ("failed", "high")
    assert "POSTGRES_PASSWORD must be set" in compose["message"]
    assert result.result("snapshot")["outcome"] in ("failed", "error")
