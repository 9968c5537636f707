"""plugins.environment and plugins.envfile: loading, extends, variables, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LocalHttp, VigilPytester, service_env

HEALTHY = {"kind": "http_health", "service": "app", "expect": {"json": {"status": "healthy"}}}


def test_valid_environment_runs_and_header_names_it(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", {"status": "healthy"})
    result = vigil.run(service_env(local_http.url, {"app-health": HEALTHY}))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["vigil: environment test (*env.yaml); 1 checks defined"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nchecks: [\n", "*env.yaml:3:1: YAML syntax error: *"),
        ("- just\n- a list\n", "*env.yaml: top level must be a mapping, not list"),
        ("name: x\nbogus: 1\n", "*env.yaml: bogus: unknown key"),
        (
            "name: x\nchecks:\n  a: {kind: http_health, service: nope}\n",
            "*env.yaml: checks.a: services 'nope' is not defined (defined: none)",
        ),
        (
            "name: x\nchecks:\n  a: {kind: teleport}\n",
            "*env.yaml: checks.a: unknown check kind 'teleport'*",
        ),
        (
            "name: x\nservices: {app: {url: 'http://h', timeout: fast}}\n",
            "*env.yaml: services.app.timeout: Input should be a valid number*",
        ),
        (
            "name: x\nservices: {app: {url: '${NOT_SET_ANYWHERE}'}}\n",
            "*services.app.url: variable ${NOT_SET_ANYWHERE} is not set",
        ),
        ("name: x\nextends: missing-base\n", "*env.yaml: extends: 'missing-base' not found*"),
        (
            "name: x\nchecks:\n  'bad name!': {kind: http_health, service: a}\n",
            "*check name 'bad name!'*",
        ),
        (
            "name: x\npolicy: {by_severity: {critical: 9}}\n",
            "*escalation level(s) [[]9] not in the escalation ladder*",
        ),
    ],
)
def test_malformed_file_is_one_usage_error_line(
    vigil: VigilPytester, text: str, expected: str
) -> None:
    path = vigil.pytester.path / "env.yaml"
    path.write_text(text)
    result = vigil.run(path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_unknown_environment_names_the_available_ones(vigil: VigilPytester) -> None:
    result = vigil.pytester.runpytest(*vigil.args("no-such-env"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown environment 'no-such-env' (available: *demo*)"])


def test_extends_merges_and_null_removes_a_check(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", {"status": "healthy"})
    local_http.route("/other", "", status=503)
    base = service_env(local_http.url, {"keep": HEALTHY, "drop": {**HEALTHY, "path": "/other"}})
    vigil.env(base, "base.yaml")
    child = vigil.env(
        {"extends": "base", "name": "child", "checks": {"drop": None, "keep": {"severity": "P0"}}}
    )
    result = vigil.run(child)
    result.assert_outcomes(passed=1)
    assert vigil.results()["keep"]["severity"] == "critical"
    assert "drop" not in vigil.results()


def test_variables_with_defaults_and_secret_files(
    vigil: VigilPytester, local_http: LocalHttp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_http.route(
        "/secure", "ok", content_type="text/plain", require_header=("x-api-key", "s3cret-value")
    )
    secret = tmp_path / "key"
    secret.write_text("s3cret-value\n")
    monkeypatch.setenv("APP_URL", local_http.url)
    env = {
        "name": "vars",
        "services": {
            "app": {
                "url": "${APP_URL}",
                "timeout": "${APP_TIMEOUT:-2}",
                "auth": {"type": "header", "header": "x-api-key", "secret_file": str(secret)},
            }
        },
        "checks": {
            "secure": {
                "kind": "http_health",
                "service": "app",
                "path": "/secure",
                "authenticated": True,
            }
        },
    }
    result = vigil.run(env)
    result.assert_outcomes(passed=1)
    assert "s3cret-value" not in result.stdout.str()


def test_list_envs_lists_the_project_environments(vigil: VigilPytester) -> None:
    result = vigil.pytester.runpytest("-p", "plugins.environment", "--list-envs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["demo *demo.yaml*"])
