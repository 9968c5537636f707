"""Models shared by every part of an environment file: severities, cadences, bands, checks."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from plugins.scale import InternalSeverity, to_internal


def _normalise_severity(value: object) -> object:
    return to_internal(value) if isinstance(value, str) else value


# Any vocabulary's word is accepted in a file ("P1", "warning"); the model holds ours.
Severity = Annotated[InternalSeverity, BeforeValidator(_normalise_severity)]

# Cadences are pytest markers: ``-m daily`` selects what the morning check runs.
Cadence = Literal[
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "smoke",
    "pre_deploy",
    "post_deploy",
    "pre_maintenance",
    "post_maintenance",
    "on_incident",
    "continuous",
]
CADENCES: tuple[str, ...] = Cadence.__args__  # type: ignore[attr-defined]
Tag = Literal["security", "backup", "availability", "performance", "capacity", "data"]
TAGS: tuple[str, ...] = Tag.__args__  # type: ignore[attr-defined]

_DURATION = re.compile(r"^(?:immediate|(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d))$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def duration_seconds(text: str) -> float:
    """Seconds in a duration such as ``15m``, ``1.5s``, ``24h`` or ``immediate`` (0)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 15m, 1h, 7d)")
    if match.group(1) is None:
        return 0.0
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _check_duration(text: str) -> str:
    duration_seconds(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]


class StrictModel(BaseModel):
    """A model that rejects unknown keys, so a typo is an error and not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Bands(StrictModel):
    """Warn and critical thresholds on one value; ``direction`` says which side is bad.

    A value past ``crit`` fails with the check's own severity; past ``warn`` only, with
    ``warn_severity`` (default: one step below the check's severity).
    """

    warn: float | None = None
    crit: float | None = None
    direction: Literal["above", "below"] = "above"
    warn_severity: Severity | None = None
    unit: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.warn is None and self.crit is None:
            raise ValueError("give at least one of warn, crit")
        if self.warn is not None and self.crit is not None:
            worse = self.crit >= self.warn if self.direction == "above" else self.crit <= self.warn
            if not worse:
                raise ValueError(
                    f"crit {self.crit} must be past warn {self.warn} ({self.direction})"
                )
        return self


class CheckSpec(StrictModel):
    """What every check entry in an environment may say, whatever its kind."""

    # "module:function" of the coroutine that observes this kind; imported on first use so
    # a run pays only for the clients its selected checks need.
    probe: ClassVar[str] = ""

    kind: str
    ref: list[str] = Field(default_factory=list, description="seed catalogue ids implemented")
    description: str = ""
    severity: Severity | None = None
    cadence: list[Cadence] | None = None
    tags: list[Tag] = Field(default_factory=list)
    component: str | None = None
    runbook: str | None = None
    escalation: int | None = Field(default=None, ge=1)
    respond_within: Duration | None = None
    timeout: float | None = Field(default=None, gt=0, le=600)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _ref_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("ref"), str):
            return {**data, "ref": [data["ref"]]}
        return data

    def references(self) -> list[tuple[str, str]]:
        """(section, name) pairs this check reads, e.g. ``("services", "detector")``."""
        return []

    def observation_budget(self, timeout: float) -> float:
        """How long observing may take in all, given one call's timeout (kinds that wait add)."""
        return timeout * 2

    def default_cadence(self) -> list[str]:
        """Cadence markers when the environment names none; kinds may override."""
        return ["daily"]

    def subject(self) -> str:
        """The component a failure is attributed to in the incident roll-up."""
        return self.component or self.kind
