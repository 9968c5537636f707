"""HTTPS front of the simulated Kubernetes API and its public handle, ``K8sApiServer``.

This is a simulation: no cluster runs here. It speaks the API server's wire protocol over
TLS on 127.0.0.1 so that the real ``kubernetes`` client, loaded from the kubeconfig this
module writes, can be pointed at it unchanged.

Example::

    with start_k8s_api("crashloop") as api:
        client = kubernetes.config.new_client_from_config(
            str(api.write_kubeconfig(tmp_path / "kubeconfig"))
        )
        pods = CoreV1Api(client).list_namespaced_pod("aegis", _request_timeout=5)
"""

from __future__ import annotations

import base64
import logging
import secrets
import ssl
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from testbed.k8s.api import ApiDispatcher, ApiRequest, Fault, RecordedRequest
from testbed.k8s.scenario import load_scenario
from testbed.k8s.store import ClusterStore
from testbed.k8s.tls import generate_tls_material

logger = logging.getLogger(__name__)

_HANDSHAKE_TIMEOUT_S = 10.0
_IDLE_CONNECTION_TIMEOUT_S = 30.0
_MAX_HANG_S = 600.0
_MAX_BODY_BYTES = 1 << 20
DEFAULT_USER = "vigil"


class _TlsThreadingServer(ThreadingHTTPServer):
    """Threaded HTTP server that does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatcher: ApiDispatcher,
        ssl_context: ssl.SSLContext,
        stopping: threading.Event,
    ) -> None:
        self.dispatcher = dispatcher
        self.ssl_context = ssl_context
        self.stopping = stopping
        super().__init__(address, _ApiRequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # A client that connects but never handshakes must not block the accept loop.
        request.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:
            tls_socket = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            _ApiRequestHandler(tls_socket, client_address, self)
        finally:
            tls_socket.close()


class _ApiRequestHandler(BaseHTTPRequestHandler):
    """Adapts http.server requests to the dispatcher."""

    protocol_version = "HTTP/1.1"
    server_version = "vigil-sim-kube-apiserver"
    sys_version = ""
    timeout = _IDLE_CONNECTION_TIMEOUT_S
    server: _TlsThreadingServer

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_BODY_BYTES)) if length else b""
        request = ApiRequest(
            self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body
        )
        response = self.server.dispatcher.dispatch(request)
        if response.hang:
            # Simulates an API server that accepted the request and never answers.
            self.server.stopping.wait(_MAX_HANG_S)
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("k8s-sim %s", format % args)


class K8sApiServer:
    """A running simulated Kubernetes API server (HTTPS on 127.0.0.1)."""

    def __init__(
        self,
        scenario: str | Mapping[str, Any] = "healthy",
        token: str | None = None,
        *,
        user: str = DEFAULT_USER,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self._tls = generate_tls_material(host)
        self._dispatcher = ApiDispatcher(ClusterStore(load_scenario(scenario)), {self.token: user})
        self._stopping = threading.Event()
        self._server = _TlsThreadingServer(
            (host, 0), self._dispatcher, self._tls.server_context(), self._stopping
        )
        port = self._server.server_address[1]
        self.url = f"https://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"k8s-sim-{port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("simulated Kubernetes API listening on %s", self.url)

    @property
    def ca_pem(self) -> bytes:
        """Return the PEM of the CA that signed the serving certificate."""
        return self._tls.ca_pem

    @property
    def scenario_name(self) -> str:
        """Return the name of the scenario being served."""
        return self._dispatcher.store.scenario.name

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return the requests served so far (method, path, query, user, status)."""
        return list(self._dispatcher.recorded)

    def issue_token(self, user: str) -> str:
        """Return a new bearer token for ``user`` (whose rules the scenario's ``access`` holds)."""
        token = secrets.token_urlsafe(24)
        self._dispatcher.add_token(token, user)
        return token

    def write_kubeconfig(
        self, path: Path, context: str = "vigil-sim", *, token: str | None = None
    ) -> Path:
        """Write a kubeconfig for this server (CA data, bearer token) to ``path``, mode 0600."""
        user_name = f"{context}-user"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {
                    "name": context,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": user_name, "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": user_name, "namespace": "default"},
                }
            ],
            "current-context": context,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    def load_scenario(self, scenario: str | Mapping[str, Any]) -> None:
        """Serve another scenario (bundled name or mapping) from the next request on."""
        self._dispatcher.store.replace(load_scenario(scenario))

    def set_fault(self, path_prefix: str, fault: Fault) -> None:
        """Answer paths starting with ``path_prefix`` with HTTP ``fault`` or never ("hang")."""
        self._dispatcher.set_fault(path_prefix, fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._dispatcher.clear_faults()

    def stop(self) -> None:
        """Stop serving, release hung requests and close the listening socket."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        logger.info("simulated Kubernetes API on %s stopped", self.url)

    def __enter__(self) -> K8sApiServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_k8s_api(
    scenario: str | Mapping[str, Any] = "healthy",
    token: str | None = None,
    *,
    user: str = DEFAULT_USER,
) -> K8sApiServer:
    """Start a simulated Kubernetes API serving ``scenario``; ``token`` authenticates ``user``.

    Without ``token`` a random one is generated (read it from ``.token``).
    """
    return K8sApiServer(scenario, token, user=user)
