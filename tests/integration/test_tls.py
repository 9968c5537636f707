"""Certificate checks against a real nginx (HTTPS, test CA) and certificate files.

One run of Vigil covers the healthy endpoint and each fault: wrong name, untrusted chain,
a port that is not TLS (answering, or silent: it must not hang), a refused port, and files
that are expired, inside the renewal window, untrusted or misnamed. The mid-session expiry
swaps nginx's certificate and observes again through the probe itself.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fixtures.tls import covers, read_endpoint
from plugins.schema.tls import TlsEndpoint
from testbed.services import NginxServer, ServiceStartError, TestCA, free_port, start_nginx_tls
from tests.support import VigilRun, run_vigil

# Only this domain's check module: a run never depends on the rest of checks/ importing.
CHECKS = "checks/test_tls.py"

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create("Vigil Test CA")


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, ca: TestCA) -> Iterator[NginxServer]:
    try:
        server = start_nginx_tls(
            tmp_path_factory.mktemp("nginx"), ca, certificate=ca.issue(valid_for=90 * DAY)
        )
    except ServiceStartError as problem:
        pytest.fail(f"nginx could not start (scripts/install-services.sh): {problem}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_http() -> Iterator[int]:
    """An HTTP (not HTTPS) server: it answers a ClientHello with a plain-text error."""

    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _write(directory: Path, name: str, pem: bytes) -> str:
    path = directory / name
    path.write_bytes(pem)
    return str(path)


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
    ca: TestCA,
    nginx: NginxServer,
    plain_http: int,
    silent_port: int,
) -> VigilRun:
    files = tmp_path_factory.mktemp("certs")
    other = TestCA.create("Some Other CA")
    now = datetime.now(UTC)
    ca_file = _write(files, "ca.crt", ca.cert_pem)
    other_ca_file = _write(files, "other-ca.crt", other.cert_pem)
    cert = {
        "fresh": ca.issue(not_after=now + 90 * DAY),
        "expired": ca.issue(not_after=now - 2 * DAY),
        "soon": ca.issue(not_after=now + 3 * DAY),
        "renew": ca.issue(not_after=now + 20 * DAY),
        "foreign": other.issue(not_after=now + 90 * DAY),
    }
    paths = {name: _write(files, f"{name}.crt", c.cert_pem) for name, c in cert.items()}
    bands = {"warn": 30, "crit": 7, "direction": "below", "warn_severity": "medium",
             "unit": " days"}  # fmt: skip
    file_check = {"kind": "tls_certificate", "host": "local", "ca_file": ca_file,
                  "days_left": bands, "severity": "critical"}  # fmt: skip
    endpoint = {"kind": "tls_certificate", "days_left": bands, "severity": "critical"}
    environment = {
        "name": "tls-test",
        "tls": {
            "nginx": {"address": nginx.address, "server_name": "localhost", "ca_file": ca_file},
            "nginx-by-ip": {"address": nginx.address, "ca_file": ca_file},
            "nginx-wrong-name": {
                "address": nginx.address, "server_name": "wrong.example.test", "ca_file": ca_file,
            },
            "nginx-other-ca": {"address": nginx.address, "ca_file": other_ca_file},
            "nginx-system-trust": {"address": nginx.address, "server_name": "localhost"},
            "plain-http": {"address": f"127.0.0.1:{plain_http}"},
            "silent": {"address": f"127.0.0.1:{silent_port}"},
            "refused": {"address": f"127.0.0.1:{free_port()}"},
        },
        "checks": {
            **{
                f"https-{name}": {**endpoint, "endpoint": name}
                for name in ("nginx", "nginx-by-ip", "nginx-wrong-name", "nginx-other-ca",
                             "nginx-system-trust", "plain-http", "refused")
            },
            "https-silent": {**endpoint, "endpoint": "silent", "timeout": 2},
            "file-fresh": {**file_check, "file": paths["fresh"], "server_name": "localhost"},
            "file-expired": {**file_check, "file": paths["expired"]},
            "file-soon": {**file_check, "file": paths["soon"]},
            "file-renew": {**file_check, "file": paths["renew"]},
            "file-foreign": {**file_check, "file": paths["foreign"]},
            "file-wrong-name": {**file_check, "file": paths["fresh"], "server_name": "api.example.test"},
            "file-missing": {**file_check, "file": str(files / "nope.crt")},
        },
    }  # fmt: skip
    return run_vigil(tmp_path_factory.mktemp("vigil"), environment, CHECKS)


@pytest.mark.parametrize("name", ["https-nginx", "https-nginx-by-ip", "file-fresh"])
def test_valid_certificates_pass(run: VigilRun, name: str) -> None:
    result = run.result(name)
    assert result["outcome"] == "passed", run.output[-3000:]
    assert "days left" in result["observed"]


def test_wrong_hostname_fails(run: VigilRun) -> None:
    wrong = run.result("https-nginx-wrong-name")
    assert (wrong["outcome"], wrong["severity"]) == ("failed", "critical")
    assert "is not valid for wrong.example.test (it names localhost, 127.0.0.1)" in wrong["message"]
    file_wrong = run.result("file-wrong-name")
    assert (
        file_wrong["outcome"] == "failed"
        and "not valid for api.example.test" in file_wrong["message"]
    )


def test_untrusted_chain_fails_with_the_reason(run: VigilRun) -> None:
    other = run.result("https-nginx-other-ca")
    assert other["outcome"] == "failed"
    assert "is not trusted by" in other["message"]
    assert "unable to get local issuer certificate" in other["message"]
    system = run.result("https-nginx-system-trust")
    assert system["outcome"] == "failed" and "the system trust store" in system["message"]
    foreign = run.result("file-foreign")
    assert foreign["outcome"] == "failed"
    assert "unable to get issuer certificate (CN=Some Other CA)" in foreign["message"]


def test_expiry_bands(run: VigilRun) -> None:
    expired = run.result("file-expired")
    assert (expired["outcome"], expired["severity"]) == ("failed", "critical")
    assert "expired 2.0 days ago" in expired["message"]
    soon = run.result("file-soon")
    assert (soon["outcome"], soon["severity"], soon["band"]) == ("failed", "critical", "crit")
    assert "days until expiry" in soon["message"] and "< crit 7 days" in soon["message"]
    renew = run.result("file-renew")
    assert (renew["outcome"], renew["severity"], renew["band"]) == ("failed", "medium", "warn")
    assert "< warn 30 days" in renew["message"]


def test_not_tls_is_an_error_within_the_timeout(run: VigilRun) -> None:
    plain = run.result("https-plain-http")
    assert plain["outcome"] == "error"
    assert "TLS handshake failed" in plain["message"] and "not a TLS port?" in plain["message"]
    silent = run.result("https-silent")
    assert silent["outcome"] == "error"
    assert "no TLS handshake within 2s" in silent["message"]
    assert silent["duration"] < 6
    refused = run.result("https-refused")
    assert refused["outcome"] == "error" and "connection refused" in refused["message"]
    missing = run.result("file-missing")
    assert missing["outcome"] == "error" and "cannot read" in missing["message"]


def test_certificate_expiring_mid_session(
    tmp_path: Path, nginx: NginxServer, ca: TestCA, run: VigilRun
) -> None:
    environment = {
        "name": "tls-swap",
        "tls": {"nginx": {"address": nginx.address, "server_name": "localhost",
                          "ca_file": str(nginx.ca_path)}},
        "checks": {"https": {"kind": "tls_certificate", "endpoint": "nginx", "severity": "critical",
                             "days_left": {"warn": 30, "crit": 7, "direction": "below",
                                           "unit": " days"}}},
    }  # fmt: skip
    now = datetime.now(UTC)
    try:
        nginx.swap_certificate(ca.issue(not_after=now - DAY))
        (tmp_path / "expired").mkdir()
        (tmp_path / "soon").mkdir()
        expired = run_vigil(tmp_path / "expired", environment, CHECKS).result("https")
        nginx.swap_certificate(ca.issue(not_after=now + 10 * DAY))
        soon = run_vigil(tmp_path / "soon", environment, CHECKS).result("https")
    finally:
        nginx.swap_certificate(ca.issue(valid_for=90 * DAY))
    assert (expired["outcome"], expired["severity"]) == ("failed", "critical")
    assert "expired 1.0 days ago" in expired["message"]
    assert (soon["outcome"], soon["severity"], soon["band"]) == ("failed", "high", "warn")
    assert "< warn 30 days" in soon["message"]


def test_silent_port_does_not_hang(silent_port: int) -> None:
    endpoint = TlsEndpoint(address=f"127.0.0.1:{silent_port}")
    began = time.monotonic()
    with pytest.raises(Exception, match=r"no TLS handshake within 0\.5s"):
        asyncio.run(read_endpoint("silent", endpoint, 0.5, True, True))
    assert time.monotonic() - began < 2


def test_name_matching_follows_rfc6125() -> None:
    assert covers(["*.example.com"], "api.example.com")
    assert not covers(["*.example.com"], "a.b.example.com")
    assert not covers(["*.example.com"], "example.com")
    assert covers(["LocalHost."], "localhost")
    assert covers(["127.0.0.1"], "127.0.0.1") and not covers(["localhost"], "127.0.0.1")
    assert covers(["::1"], "0:0:0:0:0:0:0:1")
