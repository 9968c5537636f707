"""nginx serving HTTPS ``/healthz`` with a certificate from the test CA."""

from __future__ import annotations

import logging
import signal
import socket
import ssl
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from testbed.services.binaries import require_binary
from testbed.services.errors import ServiceStartError
from testbed.services.network import http_ok
from testbed.services.process import ProcessService
from testbed.services.tls import IssuedCertificate, TestCA
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

HEALTHZ_BODY = '{"status":"ok"}'
PROBE_TIMEOUT_S = 1.0
RELOAD_TIMEOUT_S = 10.0

_CONFIG = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen {host}:{port} ssl;
        ssl_certificate {dir}/server.crt;
        ssl_certificate_key {dir}/server.key;
        location = /healthz {{
            default_type application/json;
            return 200 '{body}\\n';
        }}
    }}
}}
"""


def _unverified_context() -> ssl.SSLContext:
    # Readiness and "which certificate is served" must work with expired certificates too.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class NginxServer(ProcessService):
    """nginx on 127.0.0.1 answering ``GET /healthz`` over HTTPS.

    ``swap_certificate`` replaces the served certificate without a restart, e.g. to let a
    certificate expire mid-session::

        server = start_nginx_tls(tmp_path, ca)
        server.swap_certificate(ca.issue(not_after=datetime.now(UTC) - timedelta(days=1)))
    """

    name: ClassVar[str] = "nginx"

    def __init__(
        self,
        workdir: Path,
        ca: TestCA,
        port: int | None = None,
        certificate: IssuedCertificate | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.ca = ca
        self.certificate = certificate if certificate is not None else ca.issue()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/healthz"

    @property
    def config_path(self) -> Path:
        return self.workdir / "nginx.conf"

    @property
    def ca_path(self) -> Path:
        """The trust anchor as a file, for clients that want a path (curl, requests)."""
        return self.workdir / "ca.crt"

    def prepare(self) -> None:
        (self.workdir / "tmp").mkdir(exist_ok=True)
        self.ca.write(self.ca_path)
        self.certificate.write(self.workdir / "server.crt", self.workdir / "server.key")
        self.config_path.write_text(
            _CONFIG.format(dir=self.workdir, host=self.host, port=self.port, body=HEALTHZ_BODY)
        )

    def command(self) -> list[str]:
        return [
            require_binary(self.name, "nginx"),
            "-e",
            str(self.workdir / "error.log"),
            "-p",
            str(self.workdir),
            "-c",
            str(self.config_path),
        ]

    @property
    def log_path(self) -> Path:
        # nginx writes its own diagnostics to error.log, not to stderr.
        return self.workdir / "error.log"

    def is_ready(self) -> bool:
        return http_ok(self.url, PROBE_TIMEOUT_S, _unverified_context())

    def served_certificate(self) -> x509.Certificate:
        """The certificate the server presents right now, fetched without verifying it."""
        with (
            socket.create_connection((self.host, self.port), timeout=PROBE_TIMEOUT_S) as sock,
            _unverified_context().wrap_socket(sock) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if der is None:
            raise ssl.SSLError("server presented no certificate")
        return x509.load_der_x509_certificate(der)

    def swap_certificate(self, certificate: IssuedCertificate) -> None:
        """Serve ``certificate`` from now on: rewrite it and reload nginx (SIGHUP).

        Returns once new connections get the new certificate.
        """
        self.certificate = certificate
        self.certificate.write(self.workdir / "server.crt", self.workdir / "server.key")
        if self._process is None or self._process.poll() is not None:
            return
        old_workers = self._worker_pids()
        # SIGHUP to the master is what `nginx -s reload` sends.
        self._process.send_signal(signal.SIGHUP)
        expected = certificate.fingerprint

        def switched() -> bool:
            # Old workers accept connections until they handle their shutdown signal, so
            # the new certificate is certain only once they are gone.
            return not old_workers & self._worker_pids() and (
                self._served_fingerprint() == expected
            )

        try:
            wait_until(switched, RELOAD_TIMEOUT_S, description="nginx serving the new certificate")
        except WaitTimeout as error:
            raise ServiceStartError(
                self.name, "reload did not switch the certificate", self.log_tail()
            ) from error

    def _worker_pids(self) -> set[int]:
        if self._process is None:
            return set()
        children = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        try:
            return {int(pid) for pid in children.read_text().split()}
        except OSError:
            return set()

    def _served_fingerprint(self) -> bytes | None:
        try:
            return self.served_certificate().fingerprint(hashes.SHA256())
        except OSError:
            return None


def start_nginx_tls(
    workdir: Path,
    ca: TestCA,
    certificate: IssuedCertificate | None = None,
    port: int | None = None,
    timeout: float | None = None,
) -> NginxServer:
    """Start nginx with HTTPS ``/healthz`` under ``workdir``; return it ready.

    Without ``certificate``, a fresh one valid for 30 days is issued by ``ca``.
    """
    return NginxServer(workdir, ca, port, certificate).start(timeout)
