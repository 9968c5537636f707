"""Integration tests of testbed/services: each real server started, checked through its API.

The whole set starts once per module as a ServiceStack (concurrently); a service whose
binaries are missing is left out and its tests skip, naming scripts/install-services.sh.
"""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, start_http_server

from testbed.services import (
    PostgresServer,
    ProcessService,
    ServiceStack,
    ServiceStartError,
    TestCA,
    free_port,
    which_available,
)
from testbed.services.binaries import INSTALL_HINT, require_binary
from testbed.services.network import http_ok, http_request, port_accepts
from testbed.services.waiting import wait_until

logger = logging.getLogger(__name__)

AVAILABLE = which_available()
ALL_SERVICES = sorted(AVAILABLE)
STARTED = [name for name in ALL_SERVICES if AVAILABLE[name]]
TARGET_VALUE = 42.0
MAX_CONNECTIONS = 8
REDIS_MAXMEMORY = "2mb"
ALERT_RULES = """\
groups:
  - name: testbed
    rules:
      - alert: TestbedAlwaysFiring
        expr: vector(1)
"""


def needs(service: str) -> None:
    """Skip the calling test when ``service`` cannot run on this machine."""
    if not AVAILABLE[service]:
        pytest.skip(f"{service} is not installed here; {INSTALL_HINT}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def scrape_target() -> Iterator[str]:
    """A tiny exporter (prometheus_client) exposing one gauge for Prometheus to scrape."""
    registry = CollectorRegistry()
    Gauge("vigil_testbed_value", "A value Prometheus must scrape", registry=registry).set(
        TARGET_VALUE
    )
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def stack(workdir: Path, ca: TestCA, scrape_target: str) -> Iterator[ServiceStack]:
    alertmanager_port = free_port()
    ca_file = ca.write(workdir / "test-ca.crt")
    options: dict[str, dict[str, Any]] = {
        "postgres": {"max_connections": MAX_CONNECTIONS},
        "redis": {"maxmemory": REDIS_MAXMEMORY},
        "prometheus": {
            "scrape_targets": {"app": [scrape_target]},
            "rule_files_text": ALERT_RULES,
            "alertmanager_url": f"http://127.0.0.1:{alertmanager_port}",
        },
        "alertmanager": {"port": alertmanager_port},
        "pushgateway": {},
        "node_exporter": {},
        "blackbox_exporter": {"ca_file": ca_file},
        "nginx": {"ca": ca},
        "sshd": {},
        "moto": {},
    }
    with ServiceStack(workdir, {name: options[name] for name in STARTED}) as started:
        logger.info("startup seconds: %s", started.startup_seconds())
        yield started


def test_which_available_covers_every_service() -> None:
    assert set(AVAILABLE) == {
        "postgres",
        "redis",
        "prometheus",
        "alertmanager",
        "pushgateway",
        "node_exporter",
        "blackbox_exporter",
        "nginx",
        "sshd",
        "moto",
    }
    # moto is a Python dependency of the dev install, so it is always there.
    assert AVAILABLE["moto"] is True


def test_stack_started_every_available_service(
    stack: ServiceStack, record_property: Callable[[str, object], None]
) -> None:
    timings = stack.startup_seconds()
    record_property("startup_seconds", timings)
    assert set(timings) == set(STARTED)
    for name, server in stack.servers.items():
        assert server.is_running, name
        seconds = timings[name]
        assert seconds is not None and seconds > 0, name


def test_postgres_answers_select_1(stack: ServiceStack) -> None:
    needs("postgres")
    with psycopg.connect(stack["postgres"].dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_postgres_fill_connections_exhausts_max_connections(stack: ServiceStack) -> None:
    needs("postgres")
    server: PostgresServer = stack["postgres"]
    with server.fill_connections(MAX_CONNECTIONS) as held:
        assert len(held) == MAX_CONNECTIONS
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            psycopg.connect(server.dsn)
    with psycopg.connect(server.dsn) as conn:
        assert conn.execute("select count(*) from pg_stat_activity").fetchone() is not None


def test_redis_answers_ping(stack: ServiceStack) -> None:
    needs("redis")
    client = stack["redis"].client()
    assert client.ping() is True
    client.close()


def test_redis_fill_memory_makes_writes_fail_with_oom(stack: ServiceStack) -> None:
    needs("redis")
    server = stack["redis"]
    asked = 16 * 1024 * 1024
    stored = server.fill_memory(asked)
    client = server.client()
    try:
        assert 0 < stored < asked
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("after-fill", "x")
        assert server.free_memory() > 0
        assert client.set("after-free", "x") is True
    finally:
        client.close()


def test_prometheus_ready_and_scrapes_local_target(stack: ServiceStack) -> None:
    needs("prometheus")
    prometheus = stack["prometheus"]
    assert http_request(f"{prometheus.url}/-/ready").status == 200
    up = prometheus.wait_for_first_scrape(job="app")
    assert up[0]["value"][1] == "1"
    samples = wait_until(
        lambda: prometheus.query('vigil_testbed_value{job="app"}'), timeout=5, interval=0.2
    )
    assert float(samples[0]["value"][1]) == TARGET_VALUE


def test_alertmanager_accepts_and_returns_an_alert(stack: ServiceStack) -> None:
    needs("alertmanager")
    alertmanager = stack["alertmanager"]
    name = f"TestbedPosted{uuid.uuid4().hex[:8]}"
    alertmanager.post_alerts([{"labels": {"alertname": name, "severity": "warning"}}])
    names = [alert["labels"]["alertname"] for alert in alertmanager.alerts()]
    assert name in names


def test_prometheus_delivers_firing_rule_to_alertmanager(stack: ServiceStack) -> None:
    needs("prometheus")
    needs("alertmanager")
    alertmanager = stack["alertmanager"]

    def delivered() -> bool:
        return any(a["labels"]["alertname"] == "TestbedAlwaysFiring" for a in alertmanager.alerts())

    assert wait_until(delivered, timeout=20, interval=0.2)


def test_pushgateway_push_and_read_back(stack: ServiceStack) -> None:
    needs("pushgateway")
    gateway = stack["pushgateway"]
    registry = CollectorRegistry()
    Gauge("vigil_backup_last_success", "Last backup", registry=registry).set(1234)
    push_to_gateway(gateway.address, job="backup", registry=registry, timeout=2)
    metrics = http_request(f"{gateway.url}/metrics").text
    assert any(
        line.startswith("vigil_backup_last_success")
        and 'job="backup"' in line
        and line.endswith(" 1234")
        for line in metrics.splitlines()
    )


def test_node_exporter_serves_textfile_metrics(stack: ServiceStack) -> None:
    needs("node_exporter")
    exporter = stack["node_exporter"]
    (exporter.textfile_dir / "vigil.prom").write_text("vigil_textfile_marker 7\n")
    metrics = http_request(f"{exporter.url}/metrics").text
    assert "vigil_textfile_marker 7" in metrics.splitlines()
    assert any(line.startswith("node_load1 ") for line in metrics.splitlines())


def test_nginx_healthz_verifies_against_test_ca(stack: ServiceStack, ca: TestCA) -> None:
    needs("nginx")
    response = http_request(stack["nginx"].url, ssl_context=ca.client_context())
    assert response.status == 200
    assert response.text.strip() == '{"status":"ok"}'


def test_nginx_untrusted_without_test_ca(stack: ServiceStack) -> None:
    needs("nginx")
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        http_request(stack["nginx"].url, ssl_context=ssl.create_default_context())


def _blackbox_success(stack: ServiceStack, target: str, module: str) -> bool:
    body = http_request(stack["blackbox_exporter"].probe_url(target, module), timeout=8).text
    return "probe_success 1" in body.splitlines()


def test_blackbox_probes_nginx_with_test_ca(stack: ServiceStack) -> None:
    needs("blackbox_exporter")
    needs("nginx")
    assert _blackbox_success(stack, stack["nginx"].url, "https_test_ca")
    assert _blackbox_success(stack, stack["nginx"].address, "tcp_connect")


def test_nginx_certificate_expires_mid_session(stack: ServiceStack, ca: TestCA) -> None:
    needs("nginx")
    nginx = stack["nginx"]
    fresh = nginx.certificate
    try:
        nginx.swap_certificate(ca.issue(not_after=datetime.now(UTC) - timedelta(days=1)))
        with (
            pytest.raises(ssl.SSLCertVerificationError, match="expired"),
            socket.create_connection((nginx.host, nginx.port), timeout=2) as sock,
        ):
            ca.client_context().wrap_socket(sock, server_hostname="localhost")
        if AVAILABLE["blackbox_exporter"]:
            assert not _blackbox_success(stack, nginx.url, "https_test_ca")
    finally:
        nginx.swap_certificate(fresh)
    assert http_request(nginx.url, ssl_context=ca.client_context()).status == 200


def test_nginx_serves_about_to_expire_certificate(stack: ServiceStack, ca: TestCA) -> None:
    needs("nginx")
    nginx = stack["nginx"]
    fresh = nginx.certificate
    try:
        nginx.swap_certificate(ca.issue(valid_for=timedelta(days=2)))
        remaining = nginx.served_certificate().not_valid_after_utc - datetime.now(UTC)
        assert timedelta(days=1) < remaining <= timedelta(days=2)
        # Still valid: a verifying client accepts it, only an expiry check would warn.
        assert http_request(nginx.url, ssl_context=ca.client_context()).status == 200
    finally:
        nginx.swap_certificate(fresh)


def test_sshd_runs_true_with_generated_key(stack: ServiceStack) -> None:
    needs("sshd")
    sshd = stack["sshd"]
    assert sshd.run("true").returncode == 0
    assert sshd.run("id -un").stdout.strip() == sshd.user


def test_sshd_rejects_a_key_it_does_not_know(stack: ServiceStack, tmp_path: Path) -> None:
    needs("sshd")
    sshd = stack["sshd"]
    stranger = tmp_path / "stranger_key"
    keygen = require_binary("sshd", "ssh-keygen")
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=30
    )
    argv = sshd.ssh_command("true")
    argv[argv.index(str(sshd.key_path))] = str(stranger)
    assert subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 255


def test_moto_sts_get_caller_identity(stack: ServiceStack) -> None:
    needs("moto")
    identity = stack["moto"].client("sts").get_caller_identity()
    assert identity["Account"].isdigit() and len(identity["Account"]) == 12


def test_moto_ecs_running_count_below_desired(stack: ServiceStack) -> None:
    needs("moto")
    moto = stack["moto"]
    ecs = moto.client("ecs")
    ecs.create_cluster(clusterName="testbed")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )
    with moto.ecs_running_count(1):
        ecs.create_service(
            cluster="testbed", serviceName="web", taskDefinition="web", desiredCount=3
        )
    service = ecs.describe_services(cluster="testbed", services=["web"])["services"][0]
    assert (service["runningCount"], service["desiredCount"]) == (1, 3)


class NeverReady(ProcessService):
    """A process that runs but never passes its readiness probe."""

    name: ClassVar[str] = "never-ready"
    ready_timeout: ClassVar[float] = 0.5

    def command(self) -> list[str]:
        return ["sleep", "30"]

    def is_ready(self) -> bool:
        return False


def test_not_ready_in_time_raises_and_stops_the_process(tmp_path: Path) -> None:
    server = NeverReady(tmp_path)
    with pytest.raises(ServiceStartError, match=r"never-ready: not ready on 127\.0\.0\.1:\d+"):
        server.start()
    assert not server.is_running


def test_exit_before_ready_reports_reason_and_log_tail(tmp_path: Path) -> None:
    needs("redis")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack = ServiceStack(tmp_path, {"redis": {"port": busy.getsockname()[1]}, "moto": {}})
        with pytest.raises(ServiceStartError) as raised:
            stack.start()
    assert raised.value.reason.startswith("redis: exited with status")
    assert "Address already in use" in raised.value.log_tail
    # The service that did start was stopped again.
    assert not stack["moto"].is_running


def test_missing_binary_says_how_to_install() -> None:
    with pytest.raises(ServiceStartError, match=r"install-services\.sh"):
        require_binary("example", "vigil-no-such-binary")


def _answers(name: str, server: Any) -> bool:
    if name == "moto":
        return http_ok(f"{server.endpoint_url}/moto-api/")
    answered: bool = server.is_ready()
    return answered


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_stop_then_start_again_on_the_same_port(stack: ServiceStack, name: str) -> None:
    needs(name)
    server = stack[name]
    port = server.port
    server.stop()
    assert not server.is_running
    assert not port_accepts(server.host, port)
    server.start()
    assert server.port == port
    assert _answers(name, server)


def test_pushgateway_keeps_pushed_metrics_across_restart(stack: ServiceStack) -> None:
    needs("pushgateway")
    gateway = stack["pushgateway"]
    registry = CollectorRegistry()
    Gauge("vigil_restart_marker", "Survives restart", registry=registry).set(5)
    push_to_gateway(gateway.address, job="restart", registry=registry, timeout=2)
    gateway.restart()
    assert any(
        line.startswith("vigil_restart_marker") and line.endswith(" 5")
        for line in http_request(f"{gateway.url}/metrics").text.splitlines()
    )
