"""Docker Compose checks end to end, through the official ``docker`` SDK.

The Docker Engine here is a simulation (testbed.docker_engine): a server on a Unix socket
that speaks the Engine API's real wire protocol (container list with label filters,
inspect, multiplexed log streams), one per scenario: healthy, a service exited, a failing
healthcheck, a restart loop, a missing environment variable. Vigil runs as a user would,
in a subprocess, against all of them at once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from testbed.docker_engine import DockerEngineSim, start_docker_engine
from tests.support import ROOT, VigilRun, run_vigil

# Environment values in the simulated containers, and a wrong expected key: never shown.
SECRET_VALUES = ("sim-6f1d2c9a8b7e4f30", "sim-PgPassw0rd", "sim-Q2hhbmdlTWU", "wrong-key-77a1")
DETECTOR_KEY = "sim-6f1d2c9a8b7e4f30"
AEGIS_C = ["detector", "fingerprint", "console", "postgres", "redis"]
# Two services down at once (a custom scenario): the runbook's Level 3.
TWO_DOWN = {
    "name": "two-down",
    "extends": "unhealthy",
    "containers": {
        "aegis-c-fingerprint-1": {
            "restart": "no",
            "state": {"status": "exited", "finished": "-12m", "exit_code": 1, "health": None},
        }
    },
}
ENGINES: dict[str, str | dict[str, Any]] = {
    "healthy": "healthy",
    "exited": "service-exited",
    "unhealthy": "unhealthy",
    "looping": "restart-loop",
    "no-env": "missing-env",
    "two-down": TWO_DOWN,
}


class Finished(NamedTuple):
    vigil: VigilRun
    directory: Path


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, DockerEngineSim]]:
    # Under /tmp: a Unix socket path must stay under 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="vigil-dk-test-", dir="/tmp"))
    started = {
        name: start_docker_engine(directory / f"{name}.sock", scenario)
        for name, scenario in ENGINES.items()
    }
    yield started
    for engine in started.values():
        engine.stop()
    shutil.rmtree(directory, ignore_errors=True)


def services_check(target: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "compose_services", "target": target, "services": AEGIS_C, **extra}


@pytest.fixture(scope="module")
def run(engines: dict[str, DockerEngineSim], tmp_path_factory: pytest.TempPathFactory) -> Finished:
    directory = tmp_path_factory.mktemp("docker")
    targets: dict[str, Any] = {
        name: {"base_url": engine.base_url, "project": "aegis-c", "timeout": 3}
        for name, engine in engines.items()
    }
    targets["aegis"] = {"base_url": engines["healthy"].base_url, "project": "aegis"}
    targets["gone"] = {"base_url": f"unix://{directory}/none.sock", "project": "aegis-c"}
    graded = {"max_restarts": 5, "severity": "Level 3"}
    graded["bands"] = {"warn": 0, "crit": 1, "warn_severity": "Level 1"}
    checks: dict[str, Any] = {
        **{f"{name}-services": services_check(name, **graded) for name in ENGINES},
        "aegis-services": {
            "kind": "compose_services",
            "target": "aegis",
            "services": ["api", "frontend", "postgres", "redis"],
        },
        "expected-service-missing": services_check("healthy", services=[*AEGIS_C, "worker"]),
        "unreachable": services_check("gone"),
        "healthy-api-key": {
            "kind": "compose_env",
            "target": "healthy",
            "service": "detector",
            "variables": ["API_KEY", "LOG_LEVEL"],
            "equals": {"API_KEY": DETECTOR_KEY},
        },
        "wrong-api-key": {
            "kind": "compose_env",
            "target": "healthy",
            "service": "detector",
            "variables": ["API_KEY"],
            "equals": {"API_KEY": "wrong-key-77a1"},
        },
        "missing-api-key": {
            "kind": "compose_env",
            "target": "no-env",
            "service": "detector",
            "variables": ["API_KEY"],
            "severity": "high",
        },
        "env-of-absent-service": {
            "kind": "compose_env",
            "target": "healthy",
            "service": "worker",
            "variables": ["API_KEY"],
        },
        "detector-logs-structured": {
            "kind": "compose_logs",
            "target": "healthy",
            "service": "detector",
            "count": "not_json",
            "bands": {"crit": 0},
        },
        "console-logs-structured": {
            "kind": "compose_logs",
            "target": "healthy",
            "service": "console",
            "count": "not_json",
            "bands": {"crit": 0},
        },
        "unhealthy-error-logs": {
            "kind": "compose_logs",
            "target": "unhealthy",
            "service": "detector",
            "pattern": "ERROR",
            "informational": True,
        },
        "no-env-auth-failures": {
            "kind": "compose_logs",
            "target": "no-env",
            "pattern": r"Unauthorized|\b40[13]\b",
            "regex": True,
            "bands": {"crit": 0},
        },
    }
    checks["healthy-stats"] = {"kind": "compose_stats", "target": "healthy"}
    checks["exited-stats"] = {"kind": "compose_stats", "target": "exited"}
    checks["unreachable-stats"] = {"kind": "compose_stats", "target": "gone"}
    env = {"name": "docker-test", "docker": targets, "checks": checks}
    return Finished(run_vigil(directory, env, "checks/test_docker.py"), directory)


def outcome(run: Finished, check: str) -> tuple[str, str, str]:
    entry = run.vigil.result(check)
    return entry["outcome"], entry["severity"], entry["message"]


@pytest.mark.parametrize(
    "check", ["healthy-services", "aegis-services", "healthy-api-key", "detector-logs-structured"]
)
def test_healthy_project_passes(run: Finished, check: str) -> None:
    assert run.vigil.result(check)["outcome"] == "passed", run.vigil.output[-3000:]


def test_exited_service_fails_naming_it(run: Finished) -> None:
    state, severity, message = outcome(run, "exited-services")
    # One service down: Level 1 (the warn band) although the entry says Level 3.
    assert (state, severity) == ("failed", "medium")
    assert message == (
        "compose project aegis-c: 1 of 5 services not up: fingerprint: Exited (1) 12m ago"
    )


def test_unhealthy_service_fails_with_its_last_probe(run: Finished) -> None:
    state, _, message = outcome(run, "unhealthy-services")
    assert state == "failed"
    assert "detector: unhealthy (5 failed probes in a row; last probe: curl: (28)" in message


def test_restart_loop_fails_with_the_restart_count(run: Finished) -> None:
    state, _, message = outcome(run, "looping-services")
    assert state == "failed"
    assert "redis: restart loop (Restarting, 23 restarts, last exit 1)" in message


def test_several_services_down_take_the_entry_severity(run: Finished) -> None:
    state, severity, message = outcome(run, "two-down-services")
    assert (state, severity) == ("failed", "critical")
    assert "2 of 5 services not up" in message
    assert "detector: unhealthy" in message and "fingerprint: Exited (1)" in message


def test_expected_service_without_container_fails(run: Finished) -> None:
    state, _, message = outcome(run, "expected-service-missing")
    assert state == "failed"
    assert message.endswith("worker: no container (not created or removed)")


def test_missing_variable_fails_by_name_only(run: Finished) -> None:
    state, severity, message = outcome(run, "missing-api-key")
    assert (state, severity) == ("failed", "high")
    assert message == "compose aegis-c service detector: aegis-c-detector-1: API_KEY not set"


def test_different_key_fails_without_showing_either_value(run: Finished) -> None:
    state, _, message = outcome(run, "wrong-api-key")
    assert state == "failed"
    assert "API_KEY differs from the expected value (compared by digest)" in message


def test_no_variable_value_reaches_any_output(run: Finished) -> None:
    written = (run.directory / "reports").rglob("*")
    texts = [run.vigil.output, *(p.read_text(errors="replace") for p in written if p.is_file())]
    assert len(texts) > 2
    for value in SECRET_VALUES:
        assert not any(value in text for text in texts), value


def test_engine_problems_are_errors(run: Finished) -> None:
    state, _, message = outcome(run, "unreachable")
    assert state == "error"
    assert "unreachable: no Docker Engine socket there" in message
    state, _, message = outcome(run, "env-of-absent-service")
    assert state == "error"
    assert message.endswith("no container for service worker in compose project aegis-c")


def test_logs_are_counted_with_their_lines(run: Finished) -> None:
    state, _, message = outcome(run, "console-logs-structured")
    assert state == "failed"
    assert "aegis-c/console logs (last 200 lines each): lines not JSON = 1 > crit 0" in message
    assert message.endswith("| console listening on :3000")
    state, _, message = outcome(run, "unhealthy-error-logs")
    assert state == "passed"
    assert "lines matching 'ERROR': 1" in message
    assert "worker blocked: model inference exceeded 30s" in message
    state, _, message = outcome(run, "no-env-auth-failures")
    assert state == "failed" and "GET /secure/ping 401 Unauthorized" in message


# --- the demo's part, started by its testbed part -------------------------------------------


def test_demo_part_passes_daily(tmp_path: Path) -> None:
    env = {
        "name": "demo-docker",
        "extends": [str(ROOT / "environments" / "parts" / "demo-docker.yaml")],
        "testbed": {"start": ["docker"], "api_key": "demo-key"},
    }
    path = tmp_path / "demo-docker.yaml"
    path.write_text(yaml.safe_dump(env, sort_keys=False))
    result = run_vigil(
        tmp_path,
        path,
        "checks/test_docker.py",
        "-m",
        "daily",
        extra_env={"VIGIL_SIM_API_KEY": "demo-key"},
    )
    outcomes = result.outcomes()
    assert outcomes and set(outcomes.values()) == {"passed"}, result.output[-3000:]
    assert {"aegis-c-compose-services", "aureus-compose-services"} <= set(outcomes)
    assert "aegis-c-detector-api-key" in outcomes


def test_stats_report_cpu_and_memory_per_service(run: Finished) -> None:
    state, severity, message = outcome(run, "healthy-stats")
    assert (state, severity) == ("passed", "low")
    assert message.startswith("informational: console cpu 1.2% mem 95MiB; detector cpu 23.4%")
    assert "detector cpu 23.4% mem 1480MiB" in message
    assert "redis cpu 0.7% mem 18MiB" in message


def test_stats_leave_out_stopped_services_and_error_when_unreachable(run: Finished) -> None:
    state, _, message = outcome(run, "exited-stats")
    assert state == "passed" and "fingerprint" not in message and "detector cpu" in message
    state, _, message = outcome(run, "unreachable-stats")
    assert state == "error" and "unreachable" in message
