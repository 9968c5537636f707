"""tests/conftest.py's guard: a skipped integration test fails the suite's run."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])


def test_a_skipped_integration_test_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", ROOT)
    pytester.mkpydir("integration")
    pytester.path.joinpath("integration", "test_needs_server.py").write_text(
        "import pytest\n\ndef test_postgres():\n    pytest.skip('postgres binary missing')\n"
    )
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAILED: 1 integration test(s) skipped; they must run*"])


def test_other_skips_are_allowed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", ROOT)
    pytester.makepyfile(test_unit="import pytest\n\ndef test_x():\n    pytest.skip('not here')\n")
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
