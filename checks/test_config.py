"""Configuration checks: drift from a baseline, validation commands (config_drift, _validate).

A drift failure carries the unified diff (secret values masked, capped); a failed
validation carries the command's last stderr lines, masked too.
"""

from __future__ import annotations

import pytest

from fixtures.config import DriftFacts, KeyFacts, ValidationRun
from fixtures.verdict import fail, note
from plugins.schema.config import ConfigDriftCheck, ConfigKeysCheck, ConfigValidateCheck


@pytest.mark.kind("config_drift")
@pytest.mark.severity("medium")
def test_config_drift(
    check: ConfigDriftCheck, observation: DriftFacts, request: pytest.FixtureRequest
) -> None:
    what = f"{observation.path} on {observation.host}"
    if not observation.exists:
        fail(f"{what}: missing", observed="missing", expected=f"as {observation.baseline}")
    if observation.drifted:
        diff = "\n".join(observation.diff)
        if observation.diff_cut:
            diff += f"\n... {observation.diff_cut} more diff lines"
        detail = f":\n{diff}" if diff else f" (sha256 {observation.sha256[:12]}...)"
        fail(
            f"{what} differs from {observation.baseline}{detail}",
            observed=f"sha256 {observation.sha256[:12]}",
            expected=f"sha256 {observation.expected_sha256[:12]}",
        )
    note(request, f"sha256 {observation.sha256[:12]} matches {observation.baseline}")


@pytest.mark.kind("config_validate")
@pytest.mark.severity("high")
def test_config_validate(
    check: ConfigValidateCheck, observation: ValidationRun, request: pytest.FixtureRequest
) -> None:
    if observation.status not in check.success_codes:
        tail = observation.stderr_tail or observation.stdout_tail
        said = "\n".join(tail) if tail else "(no output)"
        wanted = " or ".join(str(code) for code in check.success_codes)
        fail(
            f"`{observation.command}` on {observation.host} exited {observation.status}, "
            f"expected {wanted}:\n{said}",
            observed=f"exit {observation.status}",
            expected=f"exit {wanted}",
        )
    note(request, f"exit {observation.status} in {observation.elapsed_s:.2f}s")


@pytest.mark.kind("config_keys")
@pytest.mark.severity("medium")
def test_config_keys(
    check: ConfigKeysCheck, observation: KeyFacts, request: pytest.FixtureRequest
) -> None:
    what = f"{observation.path} on {observation.host}"
    problems = []
    if observation.missing:
        problems.append(f"not set: {', '.join(observation.missing)}")
    if observation.empty:
        problems.append(f"empty: {', '.join(observation.empty)}")
    if observation.unmatched:
        problems.append(f"no line matches: {', '.join(observation.unmatched)}")
    if problems:
        fail(
            f"{what}: {'; '.join(problems)}",
            observed=f"{observation.present}/{len(check.keys)} keys set",
            expected=f"{len(check.keys)} keys set, {len(check.lines)} lines present",
        )
    note(request, f"{observation.present} keys set, {len(check.lines)} lines present")
