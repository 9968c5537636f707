"""plugins.shard: --shard i/N splits the selected checks into disjoint, complete parts."""

from __future__ import annotations

import pytest

from tests.conftest import LocalHttp, VigilPytester, service_env


def test_shards_are_disjoint_and_cover_every_check(
    vigil: VigilPytester, local_http: LocalHttp
) -> None:
    local_http.route("/health", "ok", content_type="text/plain")
    env = service_env(
        local_http.url, {f"c{i}": {"kind": "http_health", "service": "app"} for i in range(12)}
    )
    seen: list[str] = []
    for index in range(3):
        vigil.run(env, f"--shard={index}/3")
        seen += list(vigil.results())
    assert sorted(seen) == sorted(f"c{i}" for i in range(12))


def test_bad_shard_is_a_usage_error(vigil: VigilPytester, local_http: LocalHttp) -> None:
    result = vigil.run(service_env(local_http.url, {}), "--shard=3/3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --shard '3/3': expected I/N with 0 <= I < N, e.g. 0/4"])
