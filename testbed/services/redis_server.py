"""Redis as a plain process, optionally with a memory cap and on-disk persistence."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from testbed.services.binaries import require_binary
from testbed.services.process import ProcessService

logger = logging.getLogger(__name__)

CLIENT_TIMEOUT_S = 2.0
PROBE_TIMEOUT_S = 0.5
FILL_CHUNK_BYTES = 64 * 1024
# Ordinary writes stop this far under the cap, so none of them is refused half-way.
FILL_HEADROOM_BYTES = 256 * 1024
# How far past the cap the fill ends: more than connection buffers come and go by.
FILL_OVERSHOOT_BYTES = 256 * 1024
# Builds the value inside Redis, so the request itself stays small.
_BALLAST_SCRIPT = "return redis.call('SET', KEYS[1], string.rep('x', tonumber(ARGV[1])))"
FILL_KEY_PREFIX = "vigil:testbed:fill:"


class RedisServer(ProcessService):
    """A Redis server on 127.0.0.1 with no password.

    With ``maxmemory`` set, the eviction policy is ``noeviction``, so once the cap is
    reached writes fail with ``OOM command not allowed``: ``fill_memory`` gets it there::

        server = start_redis(tmp_path, maxmemory="2mb")
        server.fill_memory(4 * 1024 * 1024)
    """

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        maxmemory: str | None = None,
        persistence: bool = False,
    ) -> None:
        super().__init__(workdir, port)
        self.maxmemory = maxmemory
        self.persistence = persistence

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self, timeout: float = CLIENT_TIMEOUT_S) -> redis.Redis:
        """A client for this server whose every call times out after ``timeout`` seconds."""
        return redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # redis-py retries three times by default: a probe must fail fast instead.
            retry=Retry(NoBackoff(), 0),
        )

    def command(self) -> list[str]:
        argv = [
            require_binary(self.name, "redis-server"),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if self.persistence:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1"]
        else:
            argv += ["--appendonly", "no", "--save", ""]
        if self.maxmemory is not None:
            argv += ["--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction"]
        return argv

    def is_ready(self) -> bool:
        client = self.client(PROBE_TIMEOUT_S)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def fill_memory(self, nbytes: int) -> int:
        """Store ``nbytes`` of values, or, when that would cross ``maxmemory``, go past it.

        Redis admits a write while used memory is under the cap and counts connection
        buffers that come and go, so filling up to the first refusal leaves the next
        client a coin toss. Instead, ordinary writes stop short of the cap and one Lua
        script, admitted because it starts under the cap, writes a value that ends
        ``FILL_OVERSHOOT_BYTES`` beyond it: every later write is refused with OOM.
        Returns the bytes stored; fewer than ``nbytes`` means the cap was crossed.
        """
        client = self.client()
        try:
            cap = int(client.info("memory")["maxmemory"])
            stored = 0
            chunk = os.urandom(FILL_CHUNK_BYTES)
            while stored < nbytes:
                # Used memory, not bytes written: each value costs its allocator size class.
                used = int(client.info("memory")["used_memory"])
                if cap and used >= cap - FILL_HEADROOM_BYTES:
                    return stored + self._push_past_cap(client, cap - used)
                size = min(FILL_CHUNK_BYTES, nbytes - stored)
                client.set(f"{FILL_KEY_PREFIX}{stored}", chunk[:size])
                stored += size
            return stored
        except redis.exceptions.OutOfMemoryError:
            logger.info("redis was already past maxmemory after %d bytes", stored)
            return stored
        finally:
            client.close()

    @staticmethod
    def _push_past_cap(client: redis.Redis, room: int) -> int:
        ballast = max(0, room) + FILL_OVERSHOOT_BYTES
        client.eval(_BALLAST_SCRIPT, 1, f"{FILL_KEY_PREFIX}ballast", ballast)
        logger.info("redis pushed %d bytes past maxmemory", FILL_OVERSHOOT_BYTES)
        return ballast

    def free_memory(self) -> int:
        """Delete what ``fill_memory`` wrote; return the number of keys removed."""
        client = self.client()
        try:
            keys = list(client.scan_iter(match=f"{FILL_KEY_PREFIX}*", count=1000))
            return int(client.delete(*keys)) if keys else 0
        finally:
            client.close()


def start_redis(
    workdir: Path,
    maxmemory: str | None = None,
    persistence: bool = False,
    port: int | None = None,
    timeout: float | None = None,
) -> RedisServer:
    """Start Redis under ``workdir`` and return it ready."""
    return RedisServer(workdir, port, maxmemory, persistence).start(timeout)
