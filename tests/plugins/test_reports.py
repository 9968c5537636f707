"""plugins.reports: the JSON summary and Prometheus file; serial and xdist runs agree."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import LocalHttp, VigilPytester, service_env

PAGE = '# TYPE q gauge\nq{queue="a"} 5\nq{queue="b"} 50\n# TYPE done_total counter\ndone_total 10\n'


def _env(url: str) -> dict[str, Any]:
    checks: dict[str, Any] = {
        f"health-{i}": {
            "kind": "http_health",
            "service": "app",
            "tags": ["availability"],
            "component": f"c{i}",
        }
        for i in range(6)
    }
    checks["down"] = {
        "kind": "http_health",
        "service": "app",
        "path": "/down",
        "tags": ["availability"],
    }
    checks["queue-a"] = {
        "kind": "metric_threshold",
        "scrape": {"service": "app"},
        "metric": "q",
        "labels": {"queue": "a"},
        "bands": {"crit": 10},
    }
    checks["queue-b"] = {
        "kind": "metric_threshold",
        "scrape": {"service": "app"},
        "metric": "q",
        "labels": {"queue": "b"},
        "bands": {"warn": 20, "crit": 100},
    }
    checks["missing"] = {
        "kind": "metric_threshold",
        "scrape": {"service": "app"},
        "metric": "nope",
        "bands": {"crit": 1},
    }
    return service_env(url, checks)


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    for entry in summary["checks"]:
        entry.pop("duration")
    return summary


def test_json_summary_has_outcomes_details_and_rollup(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", {"status": "healthy"})
    local_http.route("/metrics", PAGE, content_type="text/plain")
    result = vigil.run(_env(local_http.url))
    result.assert_outcomes(passed=7, failed=2, errors=1)
    summary = vigil.summary()
    assert summary["counts"] == {"passed": 7, "failed": 2, "error": 1, "skipped": 0}
    assert summary["incident"]["name"] == "Level 1: Service Degradation"
    results = vigil.results()
    assert results["missing"]["outcome"] == "error"
    assert results["missing"]["message"] == "cannot observe: nope: metric nope not found on page"
    assert results["queue-b"]["observed"] == "50"
    assert results["down"]["message"].endswith("/down: HTTP 404, expected 200")
    assert local_http.hits["/metrics"] == 1, "one scrape serves every check reading the page"
    metrics = (vigil.pytester.path / "reports" / "vigil.prom").read_text()
    assert 'vigil_checks{environment="test",outcome="failed"} 2' in metrics
    assert (
        'check="queue-a",kind="metric_threshold",severity="medium",outcome="passed"} 1' in metrics
    )


def test_serial_and_parallel_runs_agree(vigil: VigilPytester, local_http: LocalHttp) -> None:
    local_http.route("/health", {"status": "healthy"})
    local_http.route("/metrics", PAGE, content_type="text/plain")
    env = _env(local_http.url)
    serial = vigil.run_subprocess(env)
    serial_summary = _comparable(vigil.summary())
    parallel = vigil.run_subprocess(env, "-n", "4")
    parallel_summary = _comparable(vigil.summary())
    assert serial.ret == parallel.ret == 1
    assert json.dumps(serial_summary, sort_keys=True) == json.dumps(
        parallel_summary, sort_keys=True
    )
    parallel.stdout.fnmatch_lines(
        ["*Vigil on-call summary: test*", "INCIDENT Level 1: Service Degradation*"]
    )
    assert parallel.stdout.str().count("Vigil on-call summary") == 1
