"""HTTP health and auth checks (catalogue kinds http_health, http_auth)."""

from __future__ import annotations

import pytest

from fixtures.http import HttpResponse
from fixtures.http_probes import FieldValues
from fixtures.observe import ObservationError
from fixtures.verdict import expect_fields, expect_status, fail, judge
from plugins.schema.http import HttpAuthCheck, HttpHealthCheck, HttpJsonThresholdCheck


@pytest.mark.kind("http_health")
@pytest.mark.severity("high")
def test_http_health(check: HttpHealthCheck, observation: HttpResponse) -> None:
    what = f"GET {observation.url}"
    expect_status(what, observation.status, check.expect.status)
    if check.expect.json_fields:
        try:
            document = observation.json()
        except ObservationError as problem:
            fail(problem.reason, observed="not JSON", expected="a JSON health document")
        expect_fields(what, document, check.expect.json_fields)
    if check.expect.body_contains and check.expect.body_contains not in observation.text:
        fail(
            f"{what}: body lacks {check.expect.body_contains!r}",
            observed=observation.text[:80],
            expected=f"contains {check.expect.body_contains!r}",
        )
    if check.expect.latency_ms is not None:
        judge(f"{what} latency", observation.elapsed_ms, check.expect.latency_ms)


@pytest.mark.kind("http_auth")
@pytest.mark.severity("high")
@pytest.mark.security
def test_http_auth_enforced(
    check: HttpAuthCheck, observation: tuple[HttpResponse, HttpResponse]
) -> None:
    without, with_credentials = observation
    if without.status not in check.refused:
        fail(
            f"{check.method} {without.url} without credentials: HTTP {without.status}, "
            f"expected {' or '.join(map(str, check.refused))} (auth not enforced)",
            observed=without.status,
            expected=check.refused,
        )
    expect_status(
        f"{check.method} {with_credentials.url} with valid credentials",
        with_credentials.status,
        check.allowed,
    )


@pytest.mark.kind("http_json_threshold")
@pytest.mark.severity("high")
def test_http_json_threshold(check: HttpJsonThresholdCheck, observation: FieldValues) -> None:
    for label, value in observation.values:
        judge(f"{observation.url} {label}", value, check.bands)
