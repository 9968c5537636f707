"""plugins.observation: probes run concurrently, time out, and never leak secrets."""

from __future__ import annotations

from tests.conftest import LocalHttp, VigilPytester, service_env

SECRET = "tok-Zq81-very-secret"


def test_independent_probes_run_concurrently(vigil: VigilPytester, local_http: LocalHttp) -> None:
    checks = {}
    for i in range(30):
        local_http.route(f"/s{i}", "ok", content_type="text/plain", delay=0.3)
        checks[f"s{i}"] = {"kind": "http_health", "service": "app", "path": f"/s{i}"}
    result = vigil.run(service_env(local_http.url, checks))
    result.assert_outcomes(passed=30)
    # All 30 were in flight together, not one after another.
    assert local_http.most_in_flight >= 25, local_http.most_in_flight


def test_a_slow_target_is_an_error_after_its_timeout(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/slow", "late", content_type="text/plain", delay=3)
    local_http.route("/fast", "ok", content_type="text/plain")
    checks = {
        "slow": {"kind": "http_health", "service": "app", "path": "/slow", "timeout": 0.5},
        "fast": {"kind": "http_health", "service": "app", "path": "/fast"},
    }
    # In a subprocess: pytester's in-process runs re-import modules between runs, which breaks
    # asyncio's cancellation bookkeeping after an earlier run (not something users ever do).
    result = vigil.run_subprocess(service_env(local_http.url, checks))
    result.assert_outcomes(passed=1, errors=1)
    assert (
        vigil.results()["slow"]["message"]
        == f"cannot observe: {local_http.url}/slow: timed out after 0.5s"
    )


def test_secrets_never_reach_output_or_reports(vigil: VigilPytester, local_http: LocalHttp) -> None:
    local_http.route(
        "/secure",
        "nope",
        content_type="text/plain",
        require_header=("Authorization", "Bearer other"),
    )
    env = service_env(
        local_http.url,
        {
            "secure": {
                "kind": "http_health",
                "service": "app",
                "path": "/secure",
                "authenticated": True,
            }
        },
    )
    env["services"]["app"]["auth"] = {"type": "bearer", "secret": SECRET}
    result = vigil.run(env, "-vv", "--tb=long")
    result.assert_outcomes(failed=1)
    reports = vigil.pytester.path / "reports"
    texts = [result.stdout.str(), result.stderr.str()] + [
        p.read_text() for p in reports.iterdir() if p.is_file()
    ]
    assert all(SECRET not in text for text in texts)


def test_unreachable_and_refused_targets_are_errors_and_the_run_completes(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "ok", content_type="text/plain")
    env = service_env(local_http.url, {"up": {"kind": "http_health", "service": "app"}})
    env["services"]["gone"] = {"url": "http://127.0.0.1:9", "timeout": 2}
    env["services"]["nowhere"] = {"url": "http://no-such-host.invalid", "timeout": 2}
    env["checks"]["refused"] = {"kind": "http_health", "service": "gone"}
    env["checks"]["dns"] = {"kind": "http_health", "service": "nowhere"}
    result = vigil.run(env)
    result.assert_outcomes(passed=1, errors=2)
    results = vigil.results()
    assert (
        results["refused"]["message"]
        == "cannot observe: http://127.0.0.1:9/health: connection refused"
    )
    assert results["dns"]["message"].startswith(
        "cannot observe: http://no-such-host.invalid/health: "
    )


def test_credentials_in_a_url_are_refused_without_echoing_them(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    env = service_env(local_http.url.replace("http://", f"http://user:{SECRET}@"), {})
    result = vigil.run(env)
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["ERROR: *env.yaml: services.app.url: String should match pattern*"]
    )
    assert SECRET not in result.stdout.str() + result.stderr.str()
