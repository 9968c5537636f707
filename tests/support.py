"""Run Vigil as a user would, in a subprocess, and read back what it reported.

>>> run = run_vigil(tmp_path, {"name": "t", "services": {...}, "checks": {...}})  # doctest: +SKIP
>>> run.result("backend-health")["outcome"]  # doctest: +SKIP
'failed'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class VigilRun:
    """One finished ``pytest`` run of the checks: exit code, output, JSON summary."""

    ret: int
    output: str
    summary: dict[str, Any]

    def result(self, check: str) -> dict[str, Any]:
        """The summary entry of one check (KeyError naming the known ones if absent)."""
        for entry in self.summary.get("checks", []):
            if entry["check"] == check:
                return dict(entry)
        known = ", ".join(entry["check"] for entry in self.summary.get("checks", []))
        raise KeyError(f"no result for {check!r}; have: {known}\n{self.output[-3000:]}")

    def outcomes(self) -> dict[str, str]:
        return {entry["check"]: entry["outcome"] for entry in self.summary.get("checks", [])}


def write_env(directory: Path, environment: dict[str, Any], name: str = "env.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(environment, sort_keys=False), encoding="utf-8")
    return path


def run_vigil(
    directory: Path,
    environment: dict[str, Any] | Path | str,
    *args: str,
    timeout: float = 240.0,
    extra_env: dict[str, str] | None = None,
) -> VigilRun:
    """Run the project's checks against ``environment`` (a dict, a file, or a name).

    Reports go to ``directory/reports``; the project's ``reports/`` is never touched.
    """
    if isinstance(environment, dict):
        env_arg = str(write_env(directory, environment))
    else:
        env_arg = str(environment)
    reports = directory / "reports"
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--env={env_arg}",
        f"--reports-dir={reports}",
        "-p",
        "no:randomly",
        *args,
    ]
    process_env = {**os.environ, **(extra_env or {})}
    process_env.pop("VIGIL_ENV", None)
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=process_env,
        check=False,
    )
    summary_path = reports / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return VigilRun(done.returncode, done.stdout + done.stderr, summary)
