"""Fixtures for the suite's own tests: a local HTTP server and a pytester that runs Vigil."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from plugins import DEFAULT_PLUGINS as PLUGINS


@dataclass
class Route:
    status: int = 200
    body: str = ""
    content_type: str = "application/json"
    delay: float = 0.0
    require_header: tuple[str, str] | None = None
    then_route: tuple[str, str] | None = None  # after answering, serve this (path, body) with 200


@dataclass
class LocalHttp:
    """A real HTTP server on loopback whose answers a test sets, counting the hits."""

    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, path: str, body: Any = "", **options: Any) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.routes[path] = Route(body=text, **options)


@pytest.fixture
def local_http() -> Iterator[LocalHttp]:
    state = LocalHttp(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with state.lock:
                state.hits[path] = state.hits.get(path, 0) + 1
                state.in_flight += 1
                state.most_in_flight = max(state.most_in_flight, state.in_flight)
            route = state.routes.get(path, Route(status=404, body="not found"))
            if route.delay:
                time.sleep(route.delay)
            with state.lock:
                state.in_flight -= 1
                if route.then_route:
                    state.routes[route.then_route[0]] = Route(
                        body=route.then_route[1], content_type="text/plain"
                    )
            status = route.status
            if (
                route.require_header
                and self.headers.get(route.require_header[0]) != route.require_header[1]
            ):
                status = 401
            payload = route.body.encode()
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # many probes connect at once

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


POLICY = {
    "vocabulary": "internal",
    "escalation": [
        {"level": 1, "who": "On-call engineer", "within": "immediate", "channel": "pagerduty"},
        {"level": 2, "who": "Engineering team lead", "within": "15m"},
        {"level": 3, "who": "Security team", "within": "30m"},
        {"level": 4, "who": "Management", "within": "1h"},
    ],
    "rollup": [
        {
            "incident": "Level 3: Critical Infrastructure",
            "severity": "critical",
            "escalation": 4,
            "when": {"tags": ["availability"], "min_components": 2},
        },
        {
            "incident": "Level 2: Security Incident",
            "severity": "high",
            "escalation": 3,
            "when": {"tags": ["security"]},
        },
        {"incident": "Level 1: Service Degradation", "severity": "medium", "escalation": 1},
    ],
}


class VigilPytester:
    """A pytester prepared to run Vigil's real check modules against a written environment."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makepyfile(
            test_vigil_checks="from checks.test_http import *  # noqa: F403\n"
            "from checks.test_metrics import *  # noqa: F403\n"
        )

    def env(self, environment: dict[str, Any], name: str = "env.yaml") -> Path:
        path = self.pytester.path / name
        path.write_text(yaml.safe_dump(environment, sort_keys=False), encoding="utf-8")
        return path

    def args(self, env_path: Path | str, *extra: str) -> list[str]:
        plugins = [arg for plugin in PLUGINS for arg in ("-p", plugin)]
        return [
            *plugins,
            "-p",
            "no:cacheprovider",
            "-p",
            "no:pytest11.testinfra",
            "-p",
            "no:hypothesispytest",
            f"--env={env_path}",
            f"--reports-dir={self.pytester.path / 'reports'}",
            *extra,
        ]

    def run(self, environment: dict[str, Any] | Path | str, *extra: str) -> pytest.RunResult:
        path = self.env(environment) if isinstance(environment, dict) else environment
        return self.pytester.runpytest(*self.args(path, *extra))

    def run_subprocess(self, environment: dict[str, Any] | Path, *extra: str) -> pytest.RunResult:
        path = self.env(environment) if isinstance(environment, dict) else environment
        return self.pytester.runpytest_subprocess(*self.args(path, *extra), timeout=120)

    def summary(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            (self.pytester.path / "reports" / "summary.json").read_text()
        )
        return document

    def results(self) -> dict[str, dict[str, Any]]:
        return {entry["check"]: entry for entry in self.summary()["checks"]}


@pytest.fixture
def vigil(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> VigilPytester:
    root = str(Path(__file__).resolve().parent.parent)
    monkeypatch.syspath_prepend(root)
    monkeypatch.setenv("PYTHONPATH", root)
    monkeypatch.delenv("VIGIL_ENV", raising=False)
    return VigilPytester(pytester)


def service_env(url: str, checks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A small environment with one service ``app`` at ``url`` and the given checks."""
    return {
        "name": "test",
        "policy": POLICY,
        "services": {"app": {"url": url, "timeout": 2}},
        "checks": checks,
        **extra,
    }


class _NoSkippedIntegration:
    """Integration tests must run for real: a skipped one fails the whole run."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and "integration" in report.keywords:
            self.skipped.append(report.nodeid)


_GUARD = _NoSkippedIntegration()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_GUARD, "vigil-no-skipped-integration")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _GUARD.skipped and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _GUARD.skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_GUARD.skipped)} integration test(s) skipped; they must run "
            f"(install the services: scripts/install-services.sh): {', '.join(_GUARD.skipped[:5])}",
            red=True,
        )
