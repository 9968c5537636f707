"""Timestamps relative to now for scenario fixtures, resolved when a scenario loads.

Grammar of a time expression (whitespace separated)::

    [now | last HH:MM] [+|-]N(s|m|h|d) ...

``-26h`` is 26 hours ago; ``last 02:00`` is the most recent 02:00 UTC at or before now
(the nightly schedule a CronJob check compares against); ``last 02:00 +4m`` is four
minutes after it. Resolved times never lie in the future: a cluster has not seen them yet.

Strings may also embed ``{unix_minutes:EXPR}``, replaced by the expression's time in whole
minutes since the epoch, which is how the CronJob controller names the Jobs it creates.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

logger = logging.getLogger(__name__)

_OFFSET = re.compile(r"([+-])(\d+)([smhd])")
_ANCHOR = re.compile(r"last (\d{2}):(\d{2})")
_EXPRESSION = re.compile(r"^(?:now|last \d{2}:\d{2}|[+-]\d+[smhd])(?: (?:[+-]\d+[smhd]))*$")
_TEMPLATE = re.compile(r"\{unix_minutes:([^}]+)\}")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_time_expression(value: str) -> bool:
    """Return whether ``value`` is a relative time expression rather than a literal."""
    return bool(_EXPRESSION.match(value.strip()))


def resolve_time(expression: str, now: dt.datetime) -> dt.datetime:
    """Resolve a relative time expression against ``now`` (timezone-aware, UTC)."""
    text = expression.strip()
    if not is_time_expression(text):
        raise ValueError(f"not a relative time expression: {expression!r}")
    moment = now
    anchor = _ANCHOR.match(text)
    if anchor:
        hour, minute = int(anchor.group(1)), int(anchor.group(2))
        moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment > now:
            moment -= dt.timedelta(days=1)
        text = text[anchor.end() :]
    elif text.startswith("now"):
        text = text[3:]
    for sign, amount, unit in _OFFSET.findall(text):
        seconds = int(amount) * _UNITS[unit]
        moment += dt.timedelta(seconds=seconds if sign == "+" else -seconds)
    return min(moment, now)


def format_rfc3339(moment: dt.datetime) -> str:
    """Format as the API server does: second precision, UTC, ``Z`` suffix."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand_templates(value: str, now: dt.datetime) -> str:
    """Replace every ``{unix_minutes:EXPR}`` in ``value``."""

    def minutes(match: re.Match[str]) -> str:
        return str(int(resolve_time(match.group(1), now).timestamp()) // 60)

    return _TEMPLATE.sub(minutes, value)
