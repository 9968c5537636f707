"""The environment file's schema, assembled from every domain module in this package.

Each domain module registers its check kinds (``@check_kind``) and target sections
(``@section``); importing this package imports them all and builds ``Environment``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Annotated, Any, TypeVar, Union, cast

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from plugins.schema.base import Cadence, CheckSpec, StrictModel
from plugins.schema.policy import Policy
from plugins.schema.registry import CHECK_KINDS, SECTIONS

_NOT_DOMAINS = {"base", "registry", "policy"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_DOMAINS:
        importlib.import_module(f"{__name__}.{_module.name}")

M = TypeVar("M", bound=BaseModel)
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Testbed(StrictModel):
    """What the project's own testbed starts for this environment (demo only)."""

    start: list[str] = Field(default_factory=lambda: ["sim"])
    api_key: str = "demo-key"
    faults: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    scenarios: dict[str, str] = Field(default_factory=dict)
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-part settings, e.g. options.postgres.max_connections"
    )


class Defaults(StrictModel):
    """Run-wide defaults a check may override."""

    timeout: float = Field(default=5.0, gt=0, le=600)
    concurrency: int = Field(default=200, ge=1, le=5000)


class EnvironmentBase(StrictModel):
    """Fields every environment has; target sections and checks are added from the registries."""

    name: str
    description: str = ""
    testbed: Testbed | None = None
    policy: Policy = Field(default_factory=Policy)
    defaults: Defaults = Field(default_factory=Defaults)
    cadence_map: dict[Cadence, Cadence] = Field(default_factory=dict)
    checks: dict[str, CheckSpec] = Field(default_factory=dict)

    @field_validator("checks")
    @classmethod
    def _names(cls, checks: dict[str, CheckSpec]) -> dict[str, CheckSpec]:
        for name in checks:
            if not _CHECK_NAME.match(name):
                raise ValueError(f"check name {name!r}: use letters, digits, '.', '_' and '-'")
        return checks

    @model_validator(mode="after")
    def _references_resolve(self) -> EnvironmentBase:
        for name, check in self.checks.items():
            for section_name, target in check.references():
                known = getattr(self, section_name, None) or {}
                if target not in known:
                    raise ValueError(
                        f"checks.{name}: {section_name} {target!r} is not defined"
                        f" (defined: {', '.join(sorted(known)) or 'none'})"
                    )
        return self

    def section(self, name: str, model: type[M]) -> dict[str, M]:
        """The targets of section ``name`` (``env.section("services", HttpService)``)."""
        return cast(dict[str, M], getattr(self, name))

    def checks_of(self, kind: str) -> dict[str, CheckSpec]:
        """The enabled checks of one kind, in file order."""
        return {n: c for n, c in self.checks.items() if c.kind == kind and c.enabled}


def _build() -> type[EnvironmentBase]:
    kinds = tuple(CHECK_KINDS.values())
    check_union: Any = Annotated[Union[kinds], Field(discriminator="kind")]  # noqa: UP007
    fields: dict[str, Any] = {"checks": (dict[str, check_union], Field(default_factory=dict))}
    for name, model in SECTIONS.items():
        fields[name] = (dict[str, model], Field(default_factory=dict))  # type: ignore[valid-type]
    return cast(
        type[EnvironmentBase], create_model("Environment", __base__=EnvironmentBase, **fields)
    )


Environment = _build()

__all__ = ["CHECK_KINDS", "SECTIONS", "Environment", "EnvironmentBase", "Policy", "Testbed"]
