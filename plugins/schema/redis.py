"""Redis servers and the checks that read them (PING, INFO, CONFIG GET; never a write)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from plugins.schema.base import Bands, CheckSpec, Duration, StrictModel
from plugins.schema.registry import check_kind, section


@section("redis")
class RedisTarget(StrictModel):
    """A Redis server; the URL is a secret because it may carry the password.

    Example::

        redis:
          cache:
            url: redis://cache.internal:6379/0      # rediss:// for TLS
            password: ${REDIS_PASSWORD}
    """

    url: SecretStr = Field(description="redis://[user:password@]host:port/db or rediss://")
    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=60, description="connect and per-call seconds")

    @model_validator(mode="after")
    def _one_password(self) -> RedisTarget:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give at most one of password, password_file")
        scheme = self.url.get_secret_value().split("://", 1)[0]
        if scheme not in ("redis", "rediss"):
            raise ValueError("url must start with redis:// or rediss://")
        return self


class RedisCheck(CheckSpec):
    """Fields every Redis check has: which server it reads."""

    target: str = Field(description="a name under redis:")

    def references(self) -> list[tuple[str, str]]:
        return [("redis", self.target)]

    def subject(self) -> str:
        return self.component or f"redis/{self.target}"


@check_kind("redis_ping")
class RedisPingCheck(RedisCheck):
    """``PING`` answers ``PONG`` (what ``redis-cli ping`` asks)."""

    probe: ClassVar[str] = "fixtures.redis:probe_ping"
    kind: Literal["redis_ping"] = "redis_ping"
    latency_ms: Bands | None = None


@check_kind("redis_memory")
class RedisMemoryCheck(RedisCheck):
    """``used_memory`` as a percentage of ``maxmemory``; optionally in MB as well.

    With ``maxmemory 0`` (unlimited) there is no percentage: the check is an error saying
    so unless ``used_mb`` bands judge the absolute size instead.
    """

    probe: ClassVar[str] = "fixtures.redis:probe_memory"
    kind: Literal["redis_memory"] = "redis_memory"
    bands: Bands = Bands(warn=80, crit=90, unit="%")
    used_mb: Bands | None = None


@check_kind("redis_info")
class RedisInfoCheck(RedisCheck):
    """One numeric ``INFO`` field against bands: ``evicted_keys``, ``connected_clients``, ...

    ``percent_of: maxclients`` judges the field as a percentage of another INFO field.
    """

    probe: ClassVar[str] = "fixtures.redis:probe_info"
    kind: Literal["redis_info"] = "redis_info"
    field: str = Field(pattern=r"^[a-z0-9_]+$")
    percent_of: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    bands: Bands


@check_kind("redis_persistence")
class RedisPersistenceCheck(RedisCheck):
    """The persistence the environment expects is on and its last write succeeded.

    ``expect: rdb`` needs a ``save`` schedule and ``rdb_last_bgsave_status:ok``; ``aof``
    needs ``aof_enabled:1`` and ``aof_last_write_status:ok``. ``max_unsaved_changes: 0``
    says a snapshot holds every write (before a planned shutdown).
    """

    probe: ClassVar[str] = "fixtures.redis:probe_persistence"
    kind: Literal["redis_persistence"] = "redis_persistence"
    expect: Literal["rdb", "aof", "rdb+aof", "any"] = "any"
    max_unsaved_changes: int | None = Field(default=None, ge=0)
    max_save_age: Duration | None = Field(default=None, description="age of the last snapshot")


@check_kind("redis_config")
class RedisConfigCheck(RedisCheck):
    """``CONFIG GET parameter`` equals the expected value (read-only; drift detection).

    Memory sizes compare as bytes, as Redis does: ``expected: 512mb`` matches ``536870912``.
    """

    probe: ClassVar[str] = "fixtures.redis:probe_config"
    kind: Literal["redis_config"] = "redis_config"
    parameter: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", description="e.g. maxmemory")
    expected: str | int
