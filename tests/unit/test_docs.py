"""docs/CHECKS.md is the generated reference of the current schema."""

from __future__ import annotations

from pathlib import Path

from plugins.kinds import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "CHECKS.md"


def test_checks_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "run: python -m plugins.kinds > docs/CHECKS.md"
    )
