"""Redis checks (catalogue kind db_redis): PING, memory, INFO fields, persistence, CONFIG.

The probes (fixtures.redis) only read; Vigil never runs FLUSHDB, SAVE or CONFIG SET.
"""

from __future__ import annotations

import pytest

from fixtures.redis import (
    RedisConfigValue,
    RedisField,
    RedisMemory,
    RedisPersistence,
    RedisPong,
    same_config_value,
)
from fixtures.verdict import fail, judge
from plugins.schema.base import Bands, duration_seconds
from plugins.schema.redis import (
    RedisConfigCheck,
    RedisInfoCheck,
    RedisMemoryCheck,
    RedisPersistenceCheck,
    RedisPingCheck,
)

_MB = 1024.0 * 1024.0


@pytest.mark.kind("redis_ping")
@pytest.mark.severity("critical")
def test_redis_ping(check: RedisPingCheck, observation: RedisPong) -> None:
    if not observation.pong:
        fail(
            f"redis {observation.target}: PING did not answer PONG",
            observed="no PONG",
            expected="PONG",
        )
    if check.latency_ms is not None:
        judge(f"redis {observation.target} PING time", observation.latency_ms, check.latency_ms)


@pytest.mark.kind("redis_memory")
@pytest.mark.severity("high")
def test_redis_memory(check: RedisMemoryCheck, observation: RedisMemory) -> None:
    used_mb = observation.used / _MB
    what = f"redis {observation.target}"
    if check.used_mb is not None:
        judge(f"{what}: used_memory (MB)", round(used_mb, 2), check.used_mb)
    if not observation.maxmemory:
        return  # unlimited: only used_mb can be judged (the probe saw to that)
    bands = check.bands if check.bands.unit else check.bands.model_copy(update={"unit": "%"})
    judge(
        f"{what}: maxmemory used ({used_mb:.1f}/{observation.maxmemory / _MB:.1f} MB,"
        f" policy {observation.policy})",
        round(observation.percent, 1),
        bands,
    )


@pytest.mark.kind("redis_info")
@pytest.mark.severity("medium")
def test_redis_info(check: RedisInfoCheck, observation: RedisField) -> None:
    what = f"redis {observation.target}: {observation.field}"
    if observation.of is None:
        judge(what, observation.value, check.bands)
        return
    percent = 100.0 * observation.value / observation.of
    bands = check.bands if check.bands.unit else check.bands.model_copy(update={"unit": "%"})
    judge(
        f"{what} of {check.percent_of} ({observation.value:g}/{observation.of:g})",
        round(percent, 1),
        bands,
    )


@pytest.mark.kind("redis_persistence")
@pytest.mark.severity("high")
def test_redis_persistence(check: RedisPersistenceCheck, observation: RedisPersistence) -> None:
    what = f"redis {observation.target}"
    # An unknown schedule (CONFIG refused) counts as on: the bgsave status still tells.
    rdb_on = observation.save_schedule != ""
    wants_rdb = check.expect in ("rdb", "rdb+aof")
    wants_aof = check.expect in ("aof", "rdb+aof")
    if check.expect == "any" and not rdb_on and not observation.aof_enabled:
        fail(
            f"{what}: no persistence (save '' and appendonly no); a restart loses every key",
            observed="none",
            expected="RDB or AOF",
        )
    if wants_rdb and not rdb_on:
        fail(
            f"{what}: RDB snapshots are off (save ''), expected {check.expect}",
            observed="save ''",
            expected=check.expect,
        )
    if wants_aof and not observation.aof_enabled:
        fail(
            f"{what}: AOF is off (aof_enabled:0), expected {check.expect}",
            observed="aof_enabled:0",
            expected=check.expect,
        )
    if rdb_on and observation.rdb_status != "ok":
        fail(
            f"{what}: last RDB snapshot failed (rdb_last_bgsave_status:{observation.rdb_status})",
            observed=observation.rdb_status,
            expected="ok",
        )
    if observation.aof_enabled:
        for field, status in (
            ("aof_last_write_status", observation.aof_write_status),
            ("aof_last_bgrewrite_status", observation.aof_rewrite_status),
        ):
            if status != "ok":
                fail(f"{what}: AOF failing ({field}:{status})", observed=status, expected="ok")
    if check.max_unsaved_changes is not None:
        judge(
            f"{what}: rdb_changes_since_last_save",
            observation.rdb_changes,
            _bound(check.max_unsaved_changes),
        )
    if check.max_save_age is not None:
        judge(
            f"{what}: age of the last RDB snapshot",
            round(observation.rdb_age_seconds),
            _bound(duration_seconds(check.max_save_age), "s"),
        )


def _bound(limit: float, unit: str = "") -> Bands:
    return Bands(crit=limit, unit=unit)


@pytest.mark.kind("redis_config")
@pytest.mark.severity("medium")
def test_redis_config(check: RedisConfigCheck, observation: RedisConfigValue) -> None:
    if not same_config_value(check.expected, observation.value):
        fail(
            f"redis {observation.target}: CONFIG GET {observation.parameter} ="
            f" {observation.value}, expected {check.expected}",
            observed=observation.value,
            expected=str(check.expected),
        )
