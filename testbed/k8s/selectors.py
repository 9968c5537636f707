"""Label and field selectors as the API server parses them for list requests."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQUALITY_TERM = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")


class SelectorError(ValueError):
    """A selector the API server would reject with 400 BadRequest."""


def _split_terms(selector: str) -> list[str]:
    # Commas separate terms except inside the parentheses of a set term.
    terms: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(selector[start:index])
            start = index + 1
    terms.append(selector[start:])
    return [term for term in terms if term.strip()]


def _label_term(term: str) -> Predicate:
    equality = _EQUALITY_TERM.match(term)
    if equality:
        key, operator, value = equality.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    set_term = _SET_TERM.match(term)
    if not set_term:
        raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
    negated, key, operator, values_text = set_term.groups()
    if operator is None:
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    if negated:
        raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
    values = {v.strip() for v in values_text.split(",") if v.strip()}
    if operator == "in":
        return lambda labels: labels.get(key) in values
    return lambda labels: labels.get(key) not in values


def label_selector(selector: str) -> Predicate:
    """Compile ``app=x,tier!=db,env in (a,b),!legacy`` into a predicate on an object."""
    predicates = [_label_term(term) for term in _split_terms(selector)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(predicate(labels) for predicate in predicates)

    return matches


def _field_value(obj: Mapping[str, Any], dotted: str) -> str:
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def field_selector(selector: str, supported: frozenset[str]) -> Predicate:
    """Compile ``metadata.name=x,status.phase!=Running`` for fields in ``supported``."""
    terms: list[tuple[str, bool, str]] = []
    for term in _split_terms(selector):
        match = _EQUALITY_TERM.match(term)
        if not match:
            raise SelectorError(f"invalid selector: {selector!r}; can't understand {term!r}")
        field, operator, value = match.groups()
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        terms.append((field, operator != "!=", value))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, f) == v) == equal for f, equal, v in terms)

    return matches
