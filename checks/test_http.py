"""HTTP health and auth checks (catalogue kinds http_health, http_auth)."""

from __future__ import annotations

import pytest

from fixtures.http import HttpResponse
from fixtures.http_probes import AuthAnswers, FieldValues, Polls
from fixtures.observe import ObservationError
from fixtures.verdict import CheckFailure, expect_fields, expect_status, fail, judge, judge_each
from plugins.schema.http import HttpAuthCheck, HttpHealthCheck, HttpJsonThresholdCheck


def healthy(check: HttpHealthCheck, answer: HttpResponse) -> None:
    """One answer meets the entry's ``expect``: status, JSON fields, body text, latency."""
    __tracebackhide__ = True
    what = f"{check.method} {answer.url}"
    expect_status(what, answer.status, check.expect.status)
    if check.expect.json_fields:
        try:
            document = answer.json()
        except ObservationError as problem:
            fail(problem.reason, observed="not JSON", expected="a JSON health document")
        expect_fields(what, document, check.expect.json_fields)
    wanted = check.expect.body_contains
    if wanted and wanted not in answer.text:
        fail(
            f"{what}: body lacks {wanted!r}",
            observed=answer.text[:80],
            expected=f"contains {wanted!r}",
        )
    if check.expect.latency_ms is not None:
        judge(f"{what} latency", answer.elapsed_ms, check.expect.latency_ms)


@pytest.mark.kind("http_health")
@pytest.mark.severity("high")
@pytest.mark.availability
def test_http_health(check: HttpHealthCheck, observation: HttpResponse | Polls) -> None:
    if isinstance(observation, HttpResponse):
        healthy(check, observation)
        return
    problems: list[str] = []
    for index, answer in enumerate(observation.answers):
        try:
            if isinstance(answer, str):
                raise CheckFailure(answer, observed="unreachable", expected="healthy")
            healthy(check, answer)
        except CheckFailure as problem:
            problems.append(f"+{index * observation.every:g}s {problem.message}")
    allowed = check.watch.max_failures if check.watch else 0
    if len(problems) > allowed:
        total = len(observation.answers)
        fail(
            f"{len(problems)} of {total} polls unhealthy (allowed {allowed}); first: {problems[0]}",
            observed=f"{len(problems)}/{total} unhealthy",
            expected=f"<= {allowed} unhealthy",
        )


@pytest.mark.kind("http_auth")
@pytest.mark.severity("high")
@pytest.mark.security
def test_http_auth_enforced(check: HttpAuthCheck, observation: AuthAnswers) -> None:
    refused = " or ".join(map(str, check.refused))
    answers = [("without credentials", observation.without)]
    answers += [
        (f"with {credentials.type} credentials that must be refused", answer)
        for credentials, answer in zip(
            check.also_refused, observation.refused_credentials, strict=True
        )
    ]
    for how, answer in answers:
        if answer.status not in check.refused:
            fail(
                f"{check.method} {answer.url} {how}: HTTP {answer.status}, expected {refused} "
                "(auth not enforced)",
                observed=answer.status,
                expected=refused,
            )
    if observation.valid is not None:
        expect_status(
            f"{check.method} {observation.valid.url} with valid credentials",
            observation.valid.status,
            check.allowed,
        )


@pytest.mark.kind("http_json_threshold")
@pytest.mark.severity("high")
def test_http_json_threshold(check: HttpJsonThresholdCheck, observation: FieldValues) -> None:
    judge_each(
        [(f"{observation.url} {label}", value) for label, value in observation.values], check.bands
    )
