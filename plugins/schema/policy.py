"""The escalation policy: who is called, how fast, and how failures roll up into an incident."""

from __future__ import annotations

from pydantic import Field, model_validator

from plugins.schema.base import Duration, Severity, StrictModel, Tag


class EscalationLevel(StrictModel):
    """One rung of the escalation ladder (seed 000: Level 2, Engineering team lead, 15 minutes)."""

    level: int = Field(ge=1)
    who: str
    within: Duration
    channel: str = ""


class RollupCondition(StrictModel):
    """Which failures a roll-up rule counts, and how many distinct components must fail."""

    tags: list[Tag] = Field(default_factory=list)
    min_severity: Severity | None = None
    kinds: list[str] = Field(default_factory=list)
    min_components: int = Field(default=1, ge=1)
    include_errors: bool = True


class RollupRule(StrictModel):
    """``incident`` is declared when ``when`` holds; the first matching rule wins."""

    incident: str
    severity: Severity
    escalation: int | None = Field(default=None, ge=1)
    when: RollupCondition = Field(default_factory=RollupCondition)
    ref: str = ""


class Policy(StrictModel):
    """Severity vocabulary, escalation ladder and roll-up rules of one environment."""

    vocabulary: str = "internal"
    escalation: list[EscalationLevel] = Field(
        default_factory=lambda: [
            EscalationLevel(level=1, who="on-call engineer", within="immediate")
        ]
    )
    by_severity: dict[Severity, int] = Field(default_factory=dict)
    rollup: list[RollupRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _levels_known(self) -> Policy:
        known = {rung.level for rung in self.escalation}
        used = list(self.by_severity.values()) + [
            rule.escalation for rule in self.rollup if rule.escalation is not None
        ]
        unknown = sorted({level for level in used if level not in known})
        if unknown:
            raise ValueError(
                f"escalation level(s) {unknown} not in the escalation ladder {sorted(known)}"
            )
        return self

    def rung(self, level: int) -> EscalationLevel:
        """The escalation level ``level``, or the highest one below it."""
        below = [rung for rung in self.escalation if rung.level <= level]
        return (
            max(below, key=lambda rung: rung.level)
            if below
            else min(self.escalation, key=lambda rung: rung.level)
        )

    def level_for(self, severity: str, override: int | None = None) -> int:
        """The escalation level a failure at ``severity`` goes to."""
        if override is not None:
            return override
        lowest = min(rung.level for rung in self.escalation)
        return int(self.by_severity.get(severity, lowest))  # type: ignore[call-overload]
