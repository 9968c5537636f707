"""The simulated Docker Engine (testbed.docker_engine), driven only through docker-py.

This is a simulation: an HTTP server on a Unix socket that speaks the Engine API. Every call
below goes through ``docker.DockerClient(base_url=..., timeout=5)``, which negotiates the API
version with ``/version`` exactly as it does against dockerd.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, NotFound

from testbed.docker_engine import API_VERSION, DockerEngineSim, ScenarioError, start_docker_engine

AEGIS_C = {"label": "com.docker.compose.project=aegis-c"}
SERVICE_LABEL = "com.docker.compose.service"

pytestmark = pytest.mark.integration


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 107-byte limit of a Unix socket path.
    directory = Path(tempfile.mkdtemp(prefix="vdk-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def engine(socket_dir: Path) -> Iterator[DockerEngineSim]:
    with start_docker_engine(socket_dir / "docker.sock") as sim:
        yield sim


@pytest.fixture
def client(engine: DockerEngineSim) -> Iterator[docker.DockerClient]:
    docker_client = docker.DockerClient(base_url=engine.base_url, timeout=5)
    yield docker_client
    docker_client.close()


def services(containers: list[docker.models.containers.Container]) -> dict[str, str]:
    return {c.labels[SERVICE_LABEL]: c.status for c in containers}


def test_client_negotiates_the_api_version(client: docker.DockerClient) -> None:
    assert client.ping() is True
    assert client.api.api_version == API_VERSION
    version = client.version()
    assert version["ApiVersion"] == API_VERSION
    assert version["Os"] == "linux"


def test_too_new_client_version_is_refused(engine: DockerEngineSim) -> None:
    future = docker.DockerClient(base_url=engine.base_url, version="1.99", timeout=5)
    with pytest.raises(APIError) as caught:
        future.containers.list()
    assert caught.value.status_code == 400
    assert "client version 1.99 is too new" in str(caught.value)


def test_healthy_compose_project_is_up_and_healthy(client: docker.DockerClient) -> None:
    containers = client.containers.list(all=True, filters=AEGIS_C)
    assert services(containers) == {
        "detector": "running",
        "fingerprint": "running",
        "console": "running",
        "postgres": "running",
        "redis": "running",
    }
    health = {c.labels[SERVICE_LABEL]: c.health for c in containers}
    assert health == {
        "detector": "healthy",
        "fingerprint": "healthy",
        "console": "unknown",  # no healthcheck: docker-py's word for a missing State.Health
        "postgres": "healthy",
        "redis": "healthy",
    }


def test_project_label_filter_keeps_projects_apart(client: docker.DockerClient) -> None:
    aegis = client.containers.list(all=True, filters={"label": "com.docker.compose.project=aegis"})
    assert set(services(aegis)) == {"api", "frontend", "postgres", "redis"}
    detector = client.containers.list(
        all=True,
        filters={"label": ["com.docker.compose.project=aegis-c", f"{SERVICE_LABEL}=detector"]},
    )
    assert [c.name for c in detector] == ["aegis-c-detector-1"]
    assert len(client.containers.list()) == 9


def test_inspect_reports_state_env_labels_and_ports(client: docker.DockerClient) -> None:
    detector = client.containers.get("aegis-c-detector-1")
    state = detector.attrs["State"]
    assert (state["Status"], state["Running"], state["Health"]["Status"]) == (
        "running",
        True,
        "healthy",
    )
    assert detector.attrs["RestartCount"] == 0
    assert any(item.startswith("API_KEY=") for item in detector.attrs["Config"]["Env"])
    assert detector.labels[SERVICE_LABEL] == "detector"
    assert detector.ports["8010/tcp"][0]["HostPort"] == "8010"
    assert client.containers.get(detector.short_id).name == "aegis-c-detector-1"
    assert detector.image.tags == ["aegis-c-detector:latest"]
    assert "Health" not in client.containers.get("aegis-c-console-1").attrs["State"]


def test_unknown_container_is_not_found(client: docker.DockerClient) -> None:
    with pytest.raises(NotFound, match="No such container: nope"):
        client.containers.get("nope")


def test_invalid_filter_is_a_bad_request(client: docker.DockerClient) -> None:
    with pytest.raises(APIError) as caught:
        client.containers.list(filters={"bogus": "x"})
    assert caught.value.status_code == 400


def test_exited_service_only_listed_with_all(
    engine: DockerEngineSim, client: docker.DockerClient
) -> None:
    engine.load_scenario("service-exited")
    assert "fingerprint" not in services(client.containers.list(filters=AEGIS_C))
    everything = services(client.containers.list(all=True, filters=AEGIS_C))
    assert everything["fingerprint"] == "exited"
    summary = client.api.containers(all=True, filters={"name": "aegis-c-fingerprint"})[0]
    assert summary["Status"].startswith("Exited (1) ")
    fingerprint = client.containers.get("aegis-c-fingerprint-1")
    assert fingerprint.attrs["State"]["ExitCode"] == 1
    assert b"too many connections" in fingerprint.logs(stdout=False, stderr=True)


def test_unhealthy_healthcheck(engine: DockerEngineSim, client: docker.DockerClient) -> None:
    engine.load_scenario("unhealthy")
    unhealthy = client.containers.list(filters={"health": "unhealthy"})
    assert [c.name for c in unhealthy] == ["aegis-c-detector-1"]
    health = unhealthy[0].attrs["State"]["Health"]
    assert health["FailingStreak"] == 5
    assert "timed out" in health["Log"][-1]["Output"]
    assert unhealthy[0].status == "running"


def test_restart_loop_is_not_fixed_by_a_restart(
    engine: DockerEngineSim, client: docker.DockerClient
) -> None:
    engine.load_scenario("restart-loop")
    redis = client.containers.get("aegis-c-redis-1")
    assert (redis.status, redis.attrs["RestartCount"]) == ("restarting", 23)
    assert redis.attrs["State"]["Restarting"] is True
    redis.restart(timeout=1)
    redis.reload()
    assert redis.status == "restarting"
    assert [(r.name, r.timeout) for r in engine.restarts] == [("aegis-c-redis-1", 1)]


def test_missing_env_var(engine: DockerEngineSim, client: docker.DockerClient) -> None:
    def env_names() -> set[str]:
        env = client.containers.get("aegis-c-detector-1").attrs["Config"]["Env"]
        return {item.split("=", 1)[0] for item in env}

    assert "API_KEY" in env_names()
    engine.load_scenario("missing-env")
    assert "API_KEY" not in env_names()
    assert {"LOG_LEVEL", "DATABASE_URL", "REDIS_URL"} <= env_names()


def test_restart_remediates_unhealthy_and_is_recorded(
    engine: DockerEngineSim, client: docker.DockerClient
) -> None:
    engine.load_scenario("unhealthy")
    detector = client.containers.get("aegis-c-detector-1")
    before = detector.attrs["State"]["StartedAt"]
    detector.restart(timeout=2)
    detector.reload()
    assert detector.health == "healthy"
    assert detector.attrs["State"]["StartedAt"] > before
    assert detector.attrs["RestartCount"] == 0  # manual restarts are not counted
    (record,) = engine.restarts
    assert (record.name, record.project, record.service, record.timeout) == (
        "aegis-c-detector-1",
        "aegis-c",
        "detector",
        2,
    )
    assert dt.datetime.now(dt.UTC) - record.at < dt.timedelta(seconds=5)


def test_start_and_stop_change_state(engine: DockerEngineSim, client: docker.DockerClient) -> None:
    engine.load_scenario("service-exited")
    fingerprint = client.containers.get("aegis-c-fingerprint-1")
    fingerprint.start()
    fingerprint.reload()
    assert (fingerprint.status, fingerprint.health) == ("running", "healthy")
    fingerprint.stop(timeout=1)
    fingerprint.reload()
    assert fingerprint.status == "exited"
    assert [a.action for a in engine.actions] == ["start", "stop"]
    assert engine.restarts == []


def test_logs_tail_and_streams(client: docker.DockerClient) -> None:
    detector = client.containers.get("aegis-c-detector-1")
    tail = detector.logs(tail=1).decode().splitlines()
    assert len(tail) == 1 and "POST /detect" in tail[0]
    assert len(detector.logs().decode().splitlines()) == 3
    assert detector.logs(stdout=False, stderr=True) == b""
    stamped = detector.logs(tail=1, timestamps=True).decode()
    assert stamped[:4].isdigit() and "Z " in stamped


def test_socket_path_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="limit is 107"):
        start_docker_engine(Path("/tmp") / ("x" * 120) / "docker.sock")


def test_unknown_scenario_is_a_clear_error(engine: DockerEngineSim) -> None:
    with pytest.raises(ScenarioError, match="no Docker scenario named 'nope'"):
        engine.load_scenario("nope")
