"""plugins.gate: --gate LEVEL and --nagios exit codes and status line."""

from __future__ import annotations

import pytest

from tests.conftest import LocalHttp, VigilPytester, service_env


def _env(url: str, severity: str) -> dict[str, object]:
    return service_env(
        url, {"health": {"kind": "http_health", "service": "app", "severity": severity}}
    )


@pytest.mark.parametrize(
    ("severity", "gate", "ret"),
    [("medium", "high", 0), ("high", "high", 1), ("low", "P2", 0), ("critical", "P1", 1)],
)
def test_gate_fails_only_at_or_above_the_level(
    vigil: VigilPytester, local_http: LocalHttp, severity: str, gate: str, ret: int
) -> None:
    local_http.route("/health", "", status=500)
    result = vigil.run(_env(local_http.url, severity), f"--gate={gate}")
    assert result.ret == ret
    result.stdout.fnmatch_lines(["FAIL * health: *HTTP 500, expected 200"])


def test_unknown_gate_level_is_a_usage_error(vigil: VigilPytester, local_http: LocalHttp) -> None:
    result = vigil.run(_env(local_http.url, "high"), "--gate=severe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gate: unknown severity 'severe'*"])


@pytest.mark.parametrize(
    ("status", "severity", "ret", "state"),
    [(200, "high", 0, "OK"), (500, "medium", 1, "WARNING"), (500, "critical", 2, "CRITICAL")],
)
def test_nagios_line_and_exit_code(
    vigil: VigilPytester, local_http: LocalHttp, status: int, severity: str, ret: int, state: str
) -> None:
    local_http.route("/health", "", status=status)
    result = vigil.run_subprocess(_env(local_http.url, severity), "--nagios")
    assert result.ret == ret
    lines = [line for line in result.stdout.lines if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"VIGIL {state} - ")
    assert "| passed=" in lines[0]


def test_nagios_unknown_when_a_target_cannot_be_observed(vigil: VigilPytester) -> None:
    env = service_env("http://127.0.0.1:9", {"health": {"kind": "http_health", "service": "app"}})
    result = vigil.run_subprocess(env, "--nagios")
    assert result.ret == 3
    result.stdout.fnmatch_lines(
        [
            "VIGIL UNKNOWN - 0 failed, 1 unobservable, 0 passed: health high: cannot observe: *connection refused*"
        ]
    )
