"""The embedded demo end to end: what `bash scripts/demo.sh` runs, healthy and degraded."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_vigil


def test_demo_daily_passes_with_an_all_clear_summary(tmp_path: Path) -> None:
    result = run_vigil(tmp_path, "demo", "-m", "daily", timeout=600)
    assert result.ret == 0, result.output[-4000:]
    assert result.summary["counts"]["failed"] == 0
    assert result.summary["counts"]["error"] == 0
    assert result.summary["counts"]["passed"] >= 25
    assert "Vigil on-call summary: demo" in result.output
    assert "All clear:" in result.output


def test_degraded_demo_fails_with_the_seeded_severities_and_rollup(tmp_path: Path) -> None:
    result = run_vigil(tmp_path, "demo-degraded", "-m", "daily", timeout=600)
    assert result.ret == 1
    expected = {
        "detector-health": ("failed", "high"),
        "detector-detection-score": ("failed", "high"),
        "anomaly-processing-active": ("failed", "critical"),
        "anomaly-input-queue": ("failed", "medium"),
        "anomaly-memory": ("failed", "medium"),  # past warn 85 only: one step below high
        "executor-health": ("error", "high"),
    }
    for check, (outcome, severity) in expected.items():
        entry = result.result(check)
        assert (entry["outcome"], entry["severity"]) == (outcome, severity), entry
    score = result.result("detector-detection-score")
    assert (score["escalate_to"], score["respond_within"]) == ("Security team", "30m")
    incident = result.summary["incident"]
    assert incident["name"] == "Level 3: Critical Infrastructure"
    assert (incident["escalate_to"], incident["respond_within"]) == ("Engineering team lead", "15m")
    assert "INCIDENT Level 3: Critical Infrastructure (critical)" in result.output
