"""plugins.collection: parametrisation by entry, ids, cadence markers, marker validation."""

from __future__ import annotations

import pytest

from tests.conftest import LocalHttp, VigilPytester, service_env


def _checks() -> dict[str, dict[str, object]]:
    return {
        "api-health": {"kind": "http_health", "service": "app"},
        "backend-health": {"kind": "http_health", "service": "app", "cadence": ["weekly", "smoke"]},
        "queue": {
            "kind": "metric_threshold",
            "scrape": {"service": "app"},
            "metric": "q",
            "bands": {"crit": 10},
            "tags": ["capacity"],
        },
    }


def test_ids_are_entry_names_and_kinds_without_entries_are_dropped(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    result = vigil.run(service_env(local_http.url, _checks()), "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "*test_http_health[[]api-health]",
            "*test_http_health[[]backend-health]",
            "*test_metric_threshold[[]queue]",
        ]
    )
    assert "test_metric_ratio" not in result.stdout.str()
    assert local_http.hits == {}, "collection must never touch a target"


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        (["-m", "daily"], {"api-health", "queue"}),
        (["-m", "weekly"], {"backend-health"}),
        (["-m", "smoke"], {"backend-health"}),
        (["-m", "capacity"], {"queue"}),
        (["-k", "backend"], {"backend-health"}),
    ],
)
def test_markers_and_keywords_select_entries(
    vigil: VigilPytester, local_http: LocalHttp, selection: list[str], selected: set[str]
) -> None:
    local_http.route("/health", "ok", content_type="text/plain")
    local_http.route("/metrics", "q 1\n", content_type="text/plain")
    vigil.run(service_env(local_http.url, _checks()), *selection)
    assert set(vigil.results()) == selected


def test_cadence_map_moves_daily_checks_to_weekly(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "ok", content_type="text/plain")
    env = service_env(local_http.url, _checks(), cadence_map={"daily": "weekly"})
    result = vigil.run(env, "-m", "daily")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    vigil.run(env, "-m", "weekly", "-k", "health")
    assert set(vigil.results()) == {"api-health", "backend-health"}


def test_bad_marker_arguments_are_usage_errors_naming_the_test(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    vigil.pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.kind("http_health")
        @pytest.mark.severity("apocalyptic")
        def test_custom(check, observation):
            pass
        """
    )
    result = vigil.run(service_env(local_http.url, _checks()), "test_bad.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_custom*unknown severity 'apocalyptic'*"])


def test_unknown_kind_marker_is_a_usage_error(vigil: VigilPytester, local_http: LocalHttp) -> None:
    vigil.pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.kind("teleport")
        def test_custom(check):
            pass
        """
    )
    result = vigil.run(service_env(local_http.url, _checks()), "test_bad.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: test_bad.py::test_custom: @pytest.mark.kind needs known kind names*"]
    )
