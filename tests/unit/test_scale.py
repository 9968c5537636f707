"""plugins.scale: one internal severity scale mapped both ways to every vocabulary."""

from __future__ import annotations

import pytest

from plugins import scale


@pytest.mark.parametrize(
    ("label", "internal"),
    [
        ("P0", "critical"),
        ("p1", "high"),
        ("P2", "medium"),
        ("P3", "low"),
        ("Critical", "critical"),
        ("warning", "medium"),
        ("info", "low"),
        ("Level 3", "critical"),
        ("blocker", "critical"),
        ("minor", "low"),
    ],
)
def test_labels_map_to_the_internal_scale(label: str, internal: str) -> None:
    assert scale.to_internal(label) == internal


@pytest.mark.parametrize(
    "vocabulary", ["internal", "priority", "allure", "nagios", "incident_level"]
)
def test_round_trip_through_each_vocabulary(vocabulary: str) -> None:
    for grade in scale.GRADES:
        assert scale.to_internal(scale.label(grade.severity, vocabulary), vocabulary) in (
            grade.severity,
            # Nagios has two problem states for four severities: the round trip keeps the band.
            *(["critical", "medium"] if vocabulary == "nagios" else []),
            *(["medium"] if vocabulary == "incident_level" else []),
        )


def test_priority_labels_are_exact() -> None:
    assert [scale.label(g.severity, "priority") for g in scale.GRADES] == ["P0", "P1", "P2", "P3"]
    assert [g.nagios_code for g in scale.GRADES] == [2, 2, 1, 1]


def test_unknown_label_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown severity 'sev9' \(known: critical, high"):
        scale.to_internal("sev9")


def test_order_helpers() -> None:
    assert scale.worst(["low", "critical", "medium"]) == "critical"
    assert scale.worst([]) is None
    assert scale.one_below("high") == "medium"
    assert scale.one_below("low") == "low"
