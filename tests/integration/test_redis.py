"""Redis checks against real Redis servers, started and seeded by the demo's part.

``cache`` has a 4 MB maxmemory, RDB + AOF persistence and the read-only ACL user the checks
log in as; ``plain`` has neither a memory cap nor persistence nor a password. One Vigil run
covers both healthy, one the faults (memory filled to maxmemory with the launcher's
``fill_memory``, then keys evicted), one the stopped server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from testbed.parts.redis import MONITOR_USER, DemoRedis, inject_faults, launch, seed
from testbed.services import RedisServer, start_redis
from tests.support import VigilRun, run_vigil

pytestmark = pytest.mark.integration

WRONG_PASSWORD = "not-the-password-41d8e2"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRedis]:
    demo = launch(maxmemory="4mb", persistence=True, workdir=tmp_path_factory.mktemp("cache"))
    seed(demo.server)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("plain"))
    yield server
    server.stop()


def environment(cache: DemoRedis, plain: RedisServer, checks: dict[str, Any]) -> dict[str, Any]:
    url = f"redis://{cache.server.address}/0"
    return {
        "name": "redis-test",
        "redis": {
            "cache": {"url": url, "username": MONITOR_USER, "password": cache.password},
            # The password inside the URL, as REDIS_URL often carries it.
            "cache-url": {
                "url": f"redis://{MONITOR_USER}:{cache.password}@{cache.server.address}/0"
            },
            "wrong": {"url": url, "username": MONITOR_USER, "password": WRONG_PASSWORD},
            "plain": {"url": f"redis://{plain.address}/0"},
        },
        "checks": checks,
    }


CHECKS: dict[str, Any] = {
    "ping": {"kind": "redis_ping", "target": "cache", "latency_ms": {"crit": 500}},
    "ping-url": {"kind": "redis_ping", "target": "cache-url"},
    "memory": {"kind": "redis_memory", "target": "cache", "bands": {"warn": 80, "crit": 90}},
    "evictions": {
        "kind": "redis_info",
        "target": "cache",
        "field": "evicted_keys",
        "bands": {"crit": 0},
    },
    "clients": {
        "kind": "redis_info",
        "target": "cache",
        "field": "connected_clients",
        "percent_of": "maxclients",
        "bands": {"warn": 50, "crit": 80},
    },
    "persistence": {
        "kind": "redis_persistence",
        "target": "cache",
        "expect": "rdb+aof",
        "max_unsaved_changes": 0,
        "max_save_age": "1h",
    },
    "maxmemory": {
        "kind": "redis_config",
        "target": "cache",
        "parameter": "maxmemory",
        "expected": "4mb",
    },
    "maxmemory-drift": {
        "kind": "redis_config",
        "target": "cache",
        "parameter": "maxmemory",
        "expected": "512mb",
    },
    "unlimited": {"kind": "redis_memory", "target": "plain"},
    "unlimited-mb": {"kind": "redis_memory", "target": "plain", "used_mb": {"crit": 100}},
    "no-persistence": {"kind": "redis_persistence", "target": "plain", "expect": "any"},
    "bad-password": {"kind": "redis_ping", "target": "wrong"},
    "no-field": {
        "kind": "redis_info",
        "target": "cache",
        "field": "no_such_field",
        "bands": {"crit": 1},
    },
}


def assert_no_secrets(run: VigilRun, reports: Path, secrets: list[str]) -> None:
    texts = [run.output] + [
        p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()
    ]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"a secret leaked: {secret[:4]}..."


def test_monitoring_user_cannot_write(cache: DemoRedis) -> None:
    client = redis.Redis(
        host=cache.server.host,
        port=cache.server.port,
        username=MONITOR_USER,
        password=cache.password,
        socket_timeout=2,
    )
    try:
        assert client.ping() is True
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("vigil:probe", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushdb()
    finally:
        client.close()


def test_healthy_servers_pass_and_errors_say_why(
    cache: DemoRedis, plain: RedisServer, tmp_path: Path
) -> None:
    run = run_vigil(tmp_path, environment(cache, plain, CHECKS))
    for name in (
        "ping",
        "ping-url",
        "memory",
        "evictions",
        "clients",
        "persistence",
        "unlimited-mb",
        "maxmemory",
    ):
        assert run.result(name)["outcome"] == "passed", (name, run.result(name)["message"])
    unlimited = run.result("unlimited")
    assert unlimited["outcome"] == "error"
    assert "maxmemory is 0 (unlimited)" in unlimited["message"]
    no_persistence = run.result("no-persistence")
    assert (no_persistence["outcome"], no_persistence["severity"]) == ("failed", "high")
    assert "no persistence (save '' and appendonly no)" in no_persistence["message"]
    bad = run.result("bad-password")
    assert bad["outcome"] == "error"
    assert (
        bad["message"]
        == f"cannot observe: redis wrong: authentication failed ({cache.server.address})"
    )
    assert "INFO has no field no_such_field" in run.result("no-field")["message"]
    drift = run.result("maxmemory-drift")
    assert (drift["outcome"], drift["severity"]) == ("failed", "medium"), drift
    assert drift["message"] == "redis cache: CONFIG GET maxmemory = 4194304, expected 512mb"
    assert_no_secrets(run, tmp_path / "reports", [cache.password, WRONG_PASSWORD])


def test_full_memory_and_evictions_fail_with_the_numbers(
    cache: DemoRedis, plain: RedisServer, tmp_path: Path
) -> None:
    for sub in ("full", "evicted"):
        (tmp_path / sub).mkdir()
    inject_faults(cache.server, {"fill_memory": True})
    admin = cache.server.client()
    memory_info = admin.info("memory")
    admin.close()
    assert memory_info["used_memory"] >= 0.95 * memory_info["maxmemory"], memory_info
    names = ("memory", "persistence")
    full = run_vigil(tmp_path / "full", environment(cache, plain, {n: CHECKS[n] for n in names}))
    inject_faults(cache.server, {"evict_keys": 200})
    evicted = run_vigil(
        tmp_path / "evicted", environment(cache, plain, {"evictions": CHECKS["evictions"]})
    )

    memory = full.result("memory")
    assert (memory["outcome"], memory["severity"]) == ("failed", "high"), memory
    assert re.search(
        r"maxmemory used \(\d\.\d/4\.0 MB, policy noeviction\) = (9\d|1\d\d)(\.\d)?% > crit 90%",
        memory["message"],
    ), memory["message"]
    unsaved = full.result("persistence")
    assert unsaved["outcome"] == "failed"
    assert "rdb_changes_since_last_save" in unsaved["message"] and "> crit 0" in unsaved["message"]
    evictions = evicted.result("evictions")
    assert (evictions["outcome"], evictions["severity"]) == ("failed", "medium")
    assert re.search(r"redis cache: evicted_keys = \d+ > crit 0$", evictions["message"])


def test_stopped_server_is_an_error_with_the_check_severity(
    cache: DemoRedis, plain: RedisServer, tmp_path: Path
) -> None:
    cache.server.stop()
    try:
        run = run_vigil(
            tmp_path, environment(cache, plain, {n: CHECKS[n] for n in ("ping", "memory")})
        )
    finally:
        cache.server.start()
    refused = f"cannot observe: redis cache: connection refused ({cache.server.address})"
    for name, severity in (("ping", "critical"), ("memory", "high")):
        result = run.result(name)
        assert (result["outcome"], result["severity"], result["message"]) == (
            "error",
            severity,
            refused,
        )
