"""A parser for the LogQL subset the simulated Loki answers.

Supported: stream selectors ``{label="v", l2=~"re", l3!="x", l4!~"re"}``; line filters
``|= "x"``, ``!= "x"``, ``|~ "re"``, ``!~ "re"``; range aggregations ``count_over_time``,
``rate``, ``bytes_over_time``, ``bytes_rate`` over ``[duration]``; vector aggregations
``sum``, ``count``, ``min``, ``max``, ``avg`` with optional ``by (...)``/``without (...)``
before or after the parentheses. Anything else is a parse error, worded like Loki's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import NoReturn

logger = logging.getLogger(__name__)

RANGE_FUNCTIONS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
VECTOR_OPERATIONS = ("sum", "count", "min", "max", "avg")
LABEL_OPS = ("=~", "!~", "!=", "=")
FILTER_OPS = ("|=", "!=", "|~", "!~")
_DURATION_UNITS = {
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
    "y": 365 * 86400 * 10**9,
}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_IDENT = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class LogQLError(ValueError):
    """A query the simulation cannot parse; the message follows Loki's wording."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a stream selector."""

    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # Label regexes are fully anchored in LogQL, as in PromQL.
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def matches_empty(self) -> bool:
        return self.matches({})


@dataclass(frozen=True)
class LineFilter:
    """One line filter: contains, does not contain, regex match, regex non-match."""

    op: str
    value: str

    def matches(self, line: str) -> bool:
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        found = re.search(self.value, line) is not None
        return found if self.op == "|~" else not found


@dataclass(frozen=True)
class LogQuery:
    """A stream selector followed by line filters."""

    matchers: tuple[Matcher, ...]
    filters: tuple[LineFilter, ...] = ()

    def selects(self, labels: dict[str, str]) -> bool:
        return all(matcher.matches(labels) for matcher in self.matchers)

    def keeps(self, line: str) -> bool:
        return all(line_filter.matches(line) for line_filter in self.filters)


@dataclass(frozen=True)
class RangeAggregation:
    """``function(<log query>[range])``."""

    function: str
    query: LogQuery
    range_ns: int


@dataclass(frozen=True)
class VectorAggregation:
    """``operation [by|without (labels)] (<metric expression>)``."""

    operation: str
    inner: RangeAggregation | VectorAggregation
    grouping: tuple[str, ...] | None = None
    without: bool = False


Expression = LogQuery | RangeAggregation | VectorAggregation


def parse_duration(text: str) -> int:
    """A Prometheus-style duration (``5m``, ``1h30m``, ``250ms``) in nanoseconds."""
    position, total = 0, 0
    while position < len(text):
        match = _DURATION.match(text, position)
        if match is None:
            raise LogQLError(f'not a valid duration string: "{text}"')
        total += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not text or total == 0:
        raise LogQLError(f'not a valid duration string: "{text}"')
    return total


def parse(query: str) -> Expression:
    """Parse ``query``; raise :class:`LogQLError` with Loki's wording on failure.

    >>> parse('sum(count_over_time({job="bridge"} |= "ERROR" [5m]))').operation
    'sum'
    """
    parser = _Parser(query)
    expression = parser.expression()
    parser.skip_space()
    if not parser.at_end():
        parser.fail(f"unexpected {parser.rest()[:20]!r}")
    return expression


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    # -- scanning ----------------------------------------------------------------------
    def fail(self, message: str) -> NoReturn:
        raise LogQLError(f"parse error at line 1, col {self.position + 1}: syntax error: {message}")

    def skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def rest(self) -> str:
        return self.text[self.position :]

    def peek(self, token: str) -> bool:
        self.skip_space()
        return self.text.startswith(token, self.position)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.position += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            found = self.rest()[:10] or "end of input"
            self.fail(f"unexpected {found!r}, expecting {token!r}")

    def identifier(self) -> str:
        self.skip_space()
        match = _IDENT.match(self.text, self.position)
        if match is None:
            self.fail(f"unexpected {self.rest()[:10]!r}, expecting IDENTIFIER")
        self.position = match.end()
        return match.group(0)

    def string(self) -> str:
        self.skip_space()
        if self.take("`"):
            end = self.text.find("`", self.position)
            if end < 0:
                self.fail("unterminated raw string")
            value = self.text[self.position : end]
            self.position = end + 1
            return value
        if not self.take('"'):
            self.fail(f"unexpected {self.rest()[:10]!r}, expecting STRING")
        chars: list[str] = []
        escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r"}
        while self.position < len(self.text):
            char = self.text[self.position]
            self.position += 1
            if char == '"':
                return "".join(chars)
            if char == "\\" and self.position < len(self.text):
                following = self.text[self.position]
                self.position += 1
                # Unknown escapes stay as written so regexes like "\d" survive.
                chars.append(escapes.get(following, "\\" + following))
            else:
                chars.append(char)
        self.fail("unterminated string")

    # -- grammar -----------------------------------------------------------------------
    def expression(self) -> Expression:
        self.skip_space()
        if self.peek("{"):
            return self.log_query()
        name = self.identifier()
        if name in RANGE_FUNCTIONS:
            return self.range_aggregation(name)
        if name in VECTOR_OPERATIONS:
            return self.vector_aggregation(name)
        self.position -= len(name)
        self.fail(f"unexpected IDENTIFIER {name!r}")

    def log_query(self) -> LogQuery:
        self.expect("{")
        matchers: list[Matcher] = []
        while not self.take("}"):
            if matchers:
                self.expect(",")
            label = self.identifier()
            op = next((op for op in LABEL_OPS if self.take(op)), None)
            if op is None:
                self.fail(f"unexpected {self.rest()[:10]!r}, expecting = or != or =~ or !~")
            value = self.string()
            if op in ("=~", "!~"):
                _check_regex(self, value)
            matchers.append(Matcher(label, op, value))
        if not matchers:
            self.fail("unexpected '}', expecting IDENTIFIER")
        if all(matcher.matches_empty() for matcher in matchers):
            raise LogQLError(
                "parse error : queries require at least one regexp or equality matcher that "
                'does not have an empty-compatible value. For instance, app=~".*" does not '
                'meet this requirement, but app=~".+" will'
            )
        filters: list[LineFilter] = []
        while True:
            op = next((op for op in FILTER_OPS if self.take(op)), None)
            if op is None:
                break
            value = self.string()
            if op in ("|~", "!~"):
                _check_regex(self, value)
            filters.append(LineFilter(op, value))
        if self.peek("|"):
            self.fail("only line filters (|=, !=, |~, !~) are supported by this simulation")
        return LogQuery(tuple(matchers), tuple(filters))

    def range_aggregation(self, function: str) -> RangeAggregation:
        self.expect("(")
        query = self.log_query()
        self.expect("[")
        end = self.text.find("]", self.position)
        if end < 0:
            self.fail("unexpected end of input, expecting ']'")
        range_ns = parse_duration(self.text[self.position : end].strip())
        self.position = end + 1
        self.expect(")")
        return RangeAggregation(function, query, range_ns)

    def grouping(self) -> tuple[tuple[str, ...], bool] | None:
        for keyword in ("by", "without"):
            if self.peek(keyword) and not _IDENT.match(self.text, self.position + len(keyword)):
                self.position += len(keyword)
                self.expect("(")
                labels: list[str] = []
                while not self.take(")"):
                    if labels:
                        self.expect(",")
                    labels.append(self.identifier())
                return tuple(labels), keyword == "without"
        return None

    def vector_aggregation(self, operation: str) -> VectorAggregation:
        grouping = self.grouping()
        self.expect("(")
        self.skip_space()
        inner = self.expression()
        if isinstance(inner, LogQuery):
            self.fail(f"{operation} needs a metric expression such as count_over_time(...)")
        self.expect(")")
        if grouping is None:
            grouping = self.grouping()
        labels, without = grouping if grouping is not None else (None, False)
        return VectorAggregation(operation, inner, labels, without)


def _check_regex(parser: _Parser, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        parser.fail(f"invalid regexp {pattern!r}: {exc}")
