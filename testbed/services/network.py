"""Loopback ports and small HTTP(S) calls, every one with a timeout."""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT = 2.0


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that was free a moment ago (bind to 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether a TCP connection to ``host:port`` succeeds within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class HttpResponse:
    """Status, body and headers of one HTTP exchange."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _opener(ssl_context: ssl.SSLContext | None) -> urllib.request.OpenerDirector:
    # Targets are loopback only: a proxy from the environment must never see these calls.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    return urllib.request.build_opener(*handlers)


def http_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResponse:
    """Send one request and return the response, 4xx/5xx included; network errors raise.

    The timeout bounds the connect, the TLS handshake and each read.
    """
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener(ssl_context).open(request, timeout=timeout) as response:
            return HttpResponse(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        with error:
            return HttpResponse(error.code, error.read(), dict(error.headers))


def http_ok(url: str, timeout: float = 1.0, ssl_context: ssl.SSLContext | None = None) -> bool:
    """Tell whether ``url`` answers 200 within ``timeout``; any network failure is ``False``."""
    try:
        return http_request(url, timeout=timeout, ssl_context=ssl_context).status == 200
    except (OSError, http.client.HTTPException):
        return False
