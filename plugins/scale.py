"""The one severity scale, and its mapping both ways to every vocabulary Vigil speaks.

Internally a severity is one of ``critical``, ``high``, ``medium``, ``low``. Environment
files may write it in any team's words (``P1``, ``warning``, ``Level 3``); reports speak
Allure's and Nagios's words. All of that is this table and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

InternalSeverity = Literal["critical", "high", "medium", "low"]


@dataclass(frozen=True)
class Grade:
    """One step of the internal scale and its name in each outside vocabulary."""

    severity: InternalSeverity
    rank: int
    priority: str  # Aureus on-call P0-P3
    incident_level: str  # AEGIS-C incident levels, by impact
    allure: str
    nagios_state: str
    nagios_code: int


GRADES: tuple[Grade, ...] = (
    Grade("critical", 4, "P0", "Level 3", "blocker", "CRITICAL", 2),
    Grade("high", 3, "P1", "Level 2", "critical", "CRITICAL", 2),
    Grade("medium", 2, "P2", "Level 1", "normal", "WARNING", 1),
    Grade("low", 1, "P3", "Level 1", "minor", "WARNING", 1),
)
_BY_SEVERITY = {grade.severity: grade for grade in GRADES}

# Words from other vocabularies that name an internal severity. Internal names win over
# Allure's (Allure "critical" is our "high", but "critical" in a YAML file means critical).
_ALIASES: dict[str, InternalSeverity] = {
    "p0": "critical",
    "p1": "high",
    "p2": "medium",
    "p3": "low",
    "level 3": "critical",
    "level 2": "high",
    "level 1": "medium",
    "blocker": "critical",
    "normal": "medium",
    "minor": "low",
    "trivial": "low",
    "warning": "medium",
    "info": "low",
    "immediate": "critical",
}

VOCABULARIES = ("internal", "priority", "incident_level", "allure", "nagios")


def grade(severity: str) -> Grade:
    """The grade of an internal severity name."""
    return _BY_SEVERITY[cast(InternalSeverity, severity)]


def to_internal(label: str, vocabulary: str | None = None) -> InternalSeverity:
    """Map a severity label to the internal scale; ``vocabulary`` settles clashes.

    >>> to_internal("P1"), to_internal("Critical"), to_internal("critical", "allure")
    ('high', 'critical', 'high')
    """
    key = " ".join(label.strip().lower().split())
    if vocabulary is not None and vocabulary != "internal":
        for g in GRADES:
            if _name_in(g, vocabulary).lower() == key:
                return g.severity
    if key in _BY_SEVERITY:
        return _BY_SEVERITY[key].severity
    if key in _ALIASES:
        return _ALIASES[key]
    known = ", ".join([*(g.severity for g in GRADES), "P0-P3", "warning", "info", "Level 1-3"])
    raise ValueError(f"unknown severity {label!r} (known: {known})")


def label(severity: str, vocabulary: str = "internal") -> str:
    """Name an internal severity in a vocabulary (``priority`` gives ``P0``-``P3``)."""
    return _name_in(grade(severity), vocabulary)


def _name_in(g: Grade, vocabulary: str) -> str:
    names = {
        "internal": g.severity,
        "priority": g.priority,
        "incident_level": g.incident_level,
        "allure": g.allure,
        "nagios": g.nagios_state,
    }
    if vocabulary not in names:
        raise ValueError(f"unknown vocabulary {vocabulary!r} (known: {', '.join(VOCABULARIES)})")
    return names[vocabulary]


def rank(severity: str) -> int:
    """Order severities: critical is 4, low is 1."""
    return grade(severity).rank


def worst(severities: list[str]) -> str | None:
    """The most severe of ``severities``, or None for an empty list."""
    return max(severities, key=rank) if severities else None


def one_below(severity: str) -> InternalSeverity:
    """The next milder severity (low stays low); a warn band's default."""
    r = max(rank(severity) - 1, 1)
    return next(g.severity for g in GRADES if g.rank == r)
