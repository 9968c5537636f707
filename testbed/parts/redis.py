"""Real Redis for the demo: a cache with sessions and rate-limit counters (testbed setup).

Persistence (RDB + AOF) is on and a snapshot is taken after seeding, as before a planned
shutdown. The checks log in as the ACL user ``vigil``, which may only read (PING, INFO,
TIME, CONFIG GET). ``testbed.options.redis`` sets ``maxmemory`` and ``persistence`` and
the degraded demo's faults: ``fill_memory`` (write until Redis refuses at maxmemory) and
``evict_keys`` (switch to allkeys-lru and write on, so keys are evicted).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from testbed.demo import RunningTestbed, TestbedError
from testbed.services import RedisServer, ServiceStartError, start_redis
from testbed.services.waiting import WaitTimeout, wait_until

logger = logging.getLogger(__name__)

# AEGIS-C's tuning step (CONFIG SET maxmemory 512mb), applied in the server's configuration.
DEFAULT_MAXMEMORY = "512mb"

MONITOR_USER = "vigil"
# What the probes send: AUTH and CLIENT SETNAME on connect, then only reads.
MONITOR_COMMANDS = "-@all +auth +ping +info +time +config|get +client|setname +select"
SNAPSHOT_TIMEOUT_S = 10.0


@dataclass
class DemoRedis:
    """The started server and the monitoring user's password."""

    server: RedisServer
    workdir: Path
    password: str

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(spec: Mapping[str, Any], running: RunningTestbed) -> None:
    options = dict((spec.get("options") or {}).get("redis") or {})
    demo = launch(
        maxmemory=str(options.get("maxmemory", DEFAULT_MAXMEMORY)),
        persistence=bool(options.get("persistence", True)),
    )
    running.stoppers.append(demo.stop)
    seed(demo.server, snapshot=bool(options.get("persistence", True)))
    inject_faults(demo.server, options)
    running.variables.update(
        {
            "REDIS_URL": f"redis://{demo.server.address}/0",
            "REDIS_USER": MONITOR_USER,
            "REDIS_PASSWORD": demo.password,
        }
    )


def launch(
    maxmemory: str | None = "64mb", persistence: bool = True, workdir: Path | None = None
) -> DemoRedis:
    """Start Redis and add the read-only ACL user ``vigil`` with a random password."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="vigil-demo-redis-"))
    try:
        server = start_redis(workdir, maxmemory=maxmemory, persistence=persistence)
    except ServiceStartError as problem:
        shutil.rmtree(workdir, ignore_errors=True)
        raise TestbedError(f"redis: {problem.reason}") from None
    demo = DemoRedis(server, workdir, secrets.token_urlsafe(18))
    client = server.client()
    try:
        client.acl_setuser(
            MONITOR_USER,
            enabled=True,
            passwords=[f"+{demo.password}"],
            commands=MONITOR_COMMANDS.split(),
            reset=True,
        )
    except redis.RedisError as problem:
        demo.stop()
        raise TestbedError(f"redis: cannot add the monitoring user: {problem}") from None
    finally:
        client.close()
    return demo


def seed(server: RedisServer, snapshot: bool = True) -> None:
    """Sessions and rate-limit counters as the Aegis backend keeps them; then a snapshot."""
    client = server.client()
    try:
        pipe = client.pipeline(transaction=False)
        for index in range(300):
            token = os.urandom(8).hex()
            pipe.hset(f"session:{token}", mapping={"user": f"user{index % 40}", "ip": "10.20.0.15"})
            pipe.expire(f"session:{token}", 3600)
        for index in range(40):
            pipe.set(f"ratelimit:user{index}:minute", index % 7, ex=60)
        pipe.execute()
        if snapshot:
            _snapshot(client)
    finally:
        client.close()


def _snapshot(client: redis.Redis) -> None:
    # Scheduled: at startup an AOF rewrite may still run, and BGSAVE would be refused.
    client.bgsave(schedule=True)

    def saved() -> bool:
        info = client.info("persistence")
        return info["rdb_changes_since_last_save"] == 0 and not info["rdb_bgsave_in_progress"]

    try:
        wait_until(saved, SNAPSHOT_TIMEOUT_S, 0.05, "redis BGSAVE")
    except WaitTimeout as problem:
        raise TestbedError(f"redis: {problem}") from None


def inject_faults(server: RedisServer, options: Mapping[str, Any]) -> None:
    """Fill memory to maxmemory, then evict keys, when the options ask for it."""
    if options.get("fill_memory"):
        stored = server.fill_memory(_cap_bytes(server) * 2)
        logger.info("redis demo filled with %d bytes", stored)
    evict = int(options.get("evict_keys", 0))
    if evict:
        client = server.client()
        try:
            client.config_set("maxmemory-policy", "allkeys-lru")
            for index in range(evict):
                client.set(f"cache:page:{index}", os.urandom(4096))
        finally:
            client.close()


def _cap_bytes(server: RedisServer) -> int:
    client = server.client()
    try:
        cap = int(client.info("memory")["maxmemory"])
    finally:
        client.close()
    if cap <= 0:
        raise TestbedError("redis: fill_memory needs options.redis.maxmemory")
    return cap
