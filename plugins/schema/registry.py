"""Registries of check kinds and target sections, filled by the domain schema modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from plugins.schema.base import CheckSpec

C = TypeVar("C", bound=CheckSpec)
M = TypeVar("M", bound=BaseModel)

CHECK_KINDS: dict[str, type[CheckSpec]] = {}
SECTIONS: dict[str, type[BaseModel]] = {}


def check_kind(kind: str) -> Callable[[type[C]], type[C]]:
    """Register a check model under ``kind`` (the value of its ``kind:`` key).

    Example::

        @check_kind("http_health")
        class HttpHealthCheck(CheckSpec): ...
    """

    def register(model: type[C]) -> type[C]:
        if kind in CHECK_KINDS:
            raise ValueError(f"check kind {kind!r} registered twice")
        CHECK_KINDS[kind] = model
        return model

    return register


def section(name: str) -> Callable[[type[M]], type[M]]:
    """Register ``model`` as the value type of the environment's ``targets.<name>`` mapping."""

    def register(model: type[M]) -> type[M]:
        if name in SECTIONS:
            raise ValueError(f"target section {name!r} registered twice")
        SECTIONS[name] = model
        return model

    return register
