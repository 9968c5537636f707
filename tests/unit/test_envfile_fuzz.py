"""Random malformed environment files: always one EnvFileError line, never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins import envfile

KEYS = st.sampled_from(
    [
        "name",
        "services",
        "checks",
        "policy",
        "kind",
        "url",
        "service",
        "bands",
        "warn",
        "crit",
        "expect",
        "status",
        "severity",
        "cadence",
        "extends",
        "escalation",
        "rollup",
        "level",
        "who",
        "within",
        "bogus",
        "scrape",
        "metric",
        "labels",
        "auth",
        "type",
        "secret",
        "testbed",
        "defaults",
        "timeout",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "http_health",
            "metric_threshold",
            "P1",
            "critical",
            "daily",
            "${UNSET_VAR}",
            "${X:-3}",
            "http://127.0.0.1:1",
            "15m",
            "soon",
        ]
    ),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "env.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            envfile.load(str(path), {})
        except envfile.EnvFileError as problem:
            message = str(problem)
            assert "\n" not in message.strip(), message
            assert message.startswith(str(path)), message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_random_documents_never_raise_anything_but_envfile_error(document: Any) -> None:
    _load(yaml.safe_dump(document))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-'\"\n #&*!|>%@`abc12$")), max_size=60))
def test_random_text_never_raises_anything_but_envfile_error(text: str) -> None:
    _load(text)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, DOCUMENTS, max_size=4))
def test_random_checks_sections(checks: dict[str, Any]) -> None:
    _load(
        yaml.safe_dump(
            {"name": "fuzz", "services": {"app": {"url": "http://127.0.0.1:1"}}, "checks": checks}
        )
    )
