"""A simulation of Grafana Loki's HTTP API (Loki itself cannot be installed on this machine).

Endpoints: ``/ready``, ``POST /loki/api/v1/push`` (JSON push format, optionally gzip),
``/loki/api/v1/query_range``, ``/loki/api/v1/query``, ``/loki/api/v1/labels`` and
``/loki/api/v1/label/{name}/values``, with Loki's parameters (``start``/``end``/``time`` as
nanoseconds, seconds or RFC 3339, ``since``, ``limit``, ``direction``, ``step``), response
shapes and plain-text 400 errors. Queries are the LogQL subset of :mod:`testbed.sim.loki.logql`.

It also ships synthetic application logs for the Aureus jobs (``bridge``, ``aureus-os``,
``openclaw``): one line per job every 5 s, an hour of history at start. Lines say ``INFO``
while the matching simulator serves and ``ERROR`` while it is down, unhealthy or erroring.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from testbed.sim.faults import DOWN, ERROR, SLOW, STALLED, UNHEALTHY
from testbed.sim.loki.logql import LogQLError, LogQuery, parse, parse_duration
from testbed.sim.loki.store import NS, LogStore
from testbed.sim.service import SimContext, SimService, iso_now

logger = logging.getLogger(__name__)

SYNTHETIC_JOBS = {
    "bridge": "aureus-bridge",
    "aureus-os": "aureus-os",
    "openclaw": "aureus-openclaw",
}
SYNTHETIC_INTERVAL_NS = 5 * NS
SYNTHETIC_HISTORY_NS = 3600 * NS
DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
DEFAULT_LOOKBACK_NS = 3600 * NS


class BadRequest(ValueError):
    """A request Loki would answer with 400 and this plain-text message."""


def parse_timestamp(value: str | None, default_ns: int) -> int:
    """Loki's timestamp rules: float seconds, integer seconds (<= 10 digits) or ns, RFC 3339."""
    if value is None or value == "":
        return default_ns
    if "." in value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            return round(seconds * 1000) * 10**6
    try:
        number = int(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f'cannot parse "{value}" to a valid timestamp') from None
        return int(parsed.timestamp()) * NS + parsed.microsecond * 1000
    return number * NS if len(value) <= 10 else number


def parse_step(value: str | None, start_ns: int, end_ns: int) -> int:
    if value is None or value == "":
        return max(math.floor((end_ns - start_ns) / NS / 250), 1) * NS
    try:
        step_ns = round(float(value) * NS)
    except ValueError:
        try:
            step_ns = parse_duration(value)
        except LogQLError as exc:
            raise BadRequest(str(exc)) from None
    if step_ns <= 0:
        raise BadRequest(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return step_ns


class Loki(SimService):
    """The ``loki`` simulator."""

    fault_kinds = frozenset({DOWN, SLOW, UNHEALTHY, STALLED, ERROR})

    def __init__(
        self, name: str, ctx: SimContext, jobs: Mapping[str, str] = SYNTHETIC_JOBS
    ) -> None:
        super().__init__(name, ctx, "Grafana Loki HTTP API (simulated)")
        self.store = LogStore()
        self._jobs = dict(jobs)
        now_ns = self._now_ns()
        self._next_synthetic_ns = now_ns - now_ns % SYNTHETIC_INTERVAL_NS - SYNTHETIC_HISTORY_NS
        self._stalled = False

    def _now_ns(self) -> int:
        return int(self.ctx.wall() * NS)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ready", self._ready)
        app.router.add_post("/loki/api/v1/push", self._push)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/loki/api/v1/query_range", self._query_range)
            app.router.add_route(method, "/loki/api/v1/query", self._query)
        app.router.add_get("/loki/api/v1/labels", self._labels)
        app.router.add_get("/loki/api/v1/label/{name}/values", self._label_values)

    def on_faults_changed(self) -> None:
        super().on_faults_changed()
        stalled = STALLED in self.faults
        if self._stalled and not stalled:
            # Shipping resumes now; the stalled stretch stays a gap, as in a real outage.
            now_ns = self._now_ns()
            gap_end = now_ns - now_ns % SYNTHETIC_INTERVAL_NS + SYNTHETIC_INTERVAL_NS
            self._next_synthetic_ns = max(self._next_synthetic_ns, gap_end)
        self._stalled = stalled

    def ship_synthetic_logs(self) -> None:
        """Append the synthetic lines due up to now (lazily, before every read or push)."""
        now_ns = self._now_ns()
        if STALLED in self.faults:
            return
        while self._next_synthetic_ns <= now_ns:
            ts = self._next_synthetic_ns
            for job, service in self._jobs.items():
                line = _synthetic_line(job, ts, self.ctx.peer_serving(service))
                labels = {"job": job, "namespace": "aureus", "app": job}
                self.store.push(labels, [(ts, line)])
            self._next_synthetic_ns += SYNTHETIC_INTERVAL_NS

    async def _ready(self, request: web.Request) -> web.Response:
        if self.unhealthy() is not None:
            text = "Ingester not ready: waiting for 15s after being ready\n"
            return web.Response(text=text, status=503)
        return web.Response(text="ready\n")

    async def _push(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            text = f"unsupported Content-Type {request.content_type!r}: this simulation takes JSON"
            return web.Response(text=text, status=415)
        try:
            body = await request.json()
            streams = _push_streams(body)
        except BadRequest as exc:
            return web.Response(text=f"{exc}\n", status=400)
        except ValueError as exc:
            return web.Response(text=f"couldn't parse push request: {exc}\n", status=400)
        self.ship_synthetic_logs()
        for labels, entries in streams:
            self.store.push(labels, entries)
        return web.Response(status=204)

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST":
            params.update({key: str(value) for key, value in (await request.post()).items()})
        return params

    async def _query_range(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        try:
            return _success(self._evaluate_range(params))
        except (BadRequest, LogQLError) as exc:
            return web.Response(text=f"{exc}\n", status=400)

    def _evaluate_range(self, params: Mapping[str, str]) -> dict[str, Any]:
        expression = parse(_required_query(params))
        end_ns = parse_timestamp(params.get("end"), self._now_ns())
        if params.get("since"):
            start_ns = end_ns - _duration(params["since"])
        else:
            start_ns = parse_timestamp(params.get("start"), end_ns - DEFAULT_LOOKBACK_NS)
        if end_ns < start_ns:
            raise BadRequest("end timestamp must not be before or equal to start time")
        self.ship_synthetic_logs()
        if isinstance(expression, LogQuery):
            limit, backward = _limit(params), _backward(params)
            result = self.store.select_logs(expression, start_ns, end_ns, limit, backward)
            return {"resultType": "streams", "result": result}
        step_ns = parse_step(params.get("step"), start_ns, end_ns)
        result = self.store.matrix(expression, start_ns, end_ns, step_ns)
        return {"resultType": "matrix", "result": result}

    async def _query(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        try:
            expression = parse(_required_query(params))
            _limit(params)
            _backward(params)
            at_ns = parse_timestamp(params.get("time"), self._now_ns())
            self.ship_synthetic_logs()
            data = {"resultType": "vector", "result": self.store.vector(expression, at_ns)}
        except (BadRequest, LogQLError) as exc:
            return web.Response(text=f"{exc}\n", status=400)
        return _success(data)

    async def _labels(self, request: web.Request) -> web.Response:
        self.ship_synthetic_logs()
        return web.json_response({"status": "success", "data": self.store.label_names()})

    async def _label_values(self, request: web.Request) -> web.Response:
        self.ship_synthetic_logs()
        values = self.store.label_values(request.match_info["name"])
        return web.json_response({"status": "success", "data": values})


def _success(data: dict[str, Any]) -> web.Response:
    entries = sum(len(item.get("values", ())) for item in data["result"])
    data["stats"] = {"summary": {"totalEntriesReturned": entries, "execTime": 0.001}}
    return web.json_response({"status": "success", "data": data})


def _required_query(params: Mapping[str, str]) -> str:
    query = params.get("query", "")
    if not query.strip():
        raise BadRequest("parse error : syntax error: unexpected $end")
    return query


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except LogQLError as exc:
        raise BadRequest(str(exc)) from None


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f'strconv.Atoi: parsing "{raw}": invalid syntax') from None
    if limit <= 0:
        raise BadRequest("limit must be a positive value")
    if limit > MAX_LIMIT:
        raise BadRequest(
            "max entries limit per query exceeded, "
            f"limit > max_entries_limit ({limit} > {MAX_LIMIT})"
        )
    return limit


def _backward(params: Mapping[str, str]) -> bool:
    direction = params.get("direction", "backward").lower()
    if direction not in ("backward", "forward"):
        raise BadRequest(f"invalid direction '{direction}'")
    return direction == "backward"


def _push_streams(body: Any) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    """Validate a JSON push body: ``{"streams": [{"stream": {...}, "values": [[ns, line]]}]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("streams"), list):
        raise BadRequest("push request needs a 'streams' list")
    parsed = []
    for stream in body["streams"]:
        labels = stream.get("stream") if isinstance(stream, dict) else None
        if not isinstance(labels, dict) or not labels:
            raise BadRequest("error at least one label pair is required per stream")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise BadRequest("stream labels must map strings to strings")
        entries = []
        for value in stream.get("values") or []:
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise BadRequest('each value must be ["<unix epoch in ns>", "<line>"]')
            ts, line = value[0], value[1]
            try:
                ts_ns = int(ts)
            except (TypeError, ValueError):
                raise BadRequest(f"invalid timestamp {ts!r}") from None
            if not isinstance(line, str):
                raise BadRequest("log line must be a string")
            entries.append((ts_ns, line))
        parsed.append((dict(labels), entries))
    return parsed


def _synthetic_line(job: str, ts_ns: int, healthy: bool) -> str:
    digest = hashlib.sha256(f"{job}:{ts_ns}".encode()).hexdigest()
    when = iso_now(ts_ns / NS)
    duration_ms = 8 + int(digest[:2], 16) % 60
    if healthy:
        return (
            f"{when} INFO  [{job}] request completed method=GET path=/api/v1/signals "
            f"status=200 duration_ms={duration_ms} request_id={digest[:16]}"
        )
    return (
        f"{when} ERROR [{job}] request failed method=GET path=/api/v1/signals status=500 "
        f'error="upstream unavailable" request_id={digest[:16]}'
    )


def build(ctx: SimContext) -> list[SimService]:
    return [Loki("loki", ctx)]
