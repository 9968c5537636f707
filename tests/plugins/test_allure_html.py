"""plugins.allure_labels and plugins.html_report: severity reaches Allure and pytest-html."""

from __future__ import annotations

import json

from tests.conftest import LocalHttp, VigilPytester, service_env


def test_allure_results_carry_severity_label_tags_and_runbook_link(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "", status=503)
    check = {
        "kind": "http_health",
        "service": "app",
        "severity": "critical",
        "ref": "aegis_c.detector-health-endpoint",
        "runbook": "https://runbooks.example/aegis-c#health",
    }
    allure_dir = vigil.pytester.path / "allure"
    vigil.run(service_env(local_http.url, {"detector-health": check}), f"--alluredir={allure_dir}")
    results = [json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")]
    assert len(results) == 1
    labels = {(label["name"], label["value"]) for label in results[0]["labels"]}
    assert ("severity", "blocker") in labels  # critical is Allure's blocker
    assert ("tag", "aegis_c.detector-health-endpoint") in labels
    assert {
        "type": "link",
        "url": "https://runbooks.example/aegis-c#health",
        "name": "runbook",
    } in results[0]["links"]


def test_html_report_has_coloured_severity_and_escalation_columns(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "", status=503)
    vigil.run(
        service_env(
            local_http.url,
            {"detector-health": {"kind": "http_health", "service": "app", "severity": "critical"}},
        )
    )
    html = (vigil.pytester.path / "reports" / "report.html").read_text()
    assert "Severity</th>" in html and "Escalation</th>" in html
    assert "color:#b00020;font-weight:bold" in html  # critical and failed
    assert "L1 On-call engineer, immediate" in html
