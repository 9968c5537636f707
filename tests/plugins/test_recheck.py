"""plugins.recheck: a remediation hook acts on a failed check, which is then judged again."""

from __future__ import annotations

from tests.conftest import LocalHttp, VigilPytester, service_env

REMEDIATOR = """
import urllib.request

def pytest_vigil_remediate(item, failure):
    if "{check}" not in item.nodeid:
        return None
    urllib.request.urlopen("{url}/heal", timeout=5).read()
    return "restarted detector"
"""


def test_remediated_check_passes_and_says_so(vigil: VigilPytester, local_http: LocalHttp) -> None:
    local_http.route("/health", "", status=503)
    local_http.route("/heal", "", status=200, then_route=("/health", "ok"))
    vigil.pytester.makeconftest(REMEDIATOR.format(check="detector", url=local_http.url))
    result = vigil.run(
        service_env(local_http.url, {"detector": {"kind": "http_health", "service": "app"}})
    )
    result.assert_outcomes(passed=1)
    assert (
        vigil.results()["detector"]["remediation"]
        == "remediated: restarted detector; re-check passed"
    )
    result.stdout.fnmatch_lines(["FIXED detector: remediated: restarted detector; re-check passed"])
    assert local_http.hits["/health"] == 2


def test_failed_remediation_keeps_the_failure_and_says_so(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "", status=503)
    local_http.route("/heal", "", status=200)  # acts, but the service stays broken
    vigil.pytester.makeconftest(REMEDIATOR.format(check="detector", url=local_http.url))
    result = vigil.run(
        service_env(local_http.url, {"detector": {"kind": "http_health", "service": "app"}})
    )
    result.assert_outcomes(failed=1)
    entry = vigil.results()["detector"]
    assert entry["remediation"].startswith("remediation failed: restarted detector; still GET ")
    assert entry["severity"] == "high"


def test_without_a_remediator_nothing_changes(vigil: VigilPytester, local_http: LocalHttp) -> None:
    local_http.route("/health", "", status=503)
    result = vigil.run(
        service_env(local_http.url, {"detector": {"kind": "http_health", "service": "app"}})
    )
    result.assert_outcomes(failed=1)
    assert vigil.results()["detector"]["remediation"] == ""
    assert local_http.hits["/health"] == 1
