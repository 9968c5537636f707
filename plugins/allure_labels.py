"""Allure severity labels and runbook links, from the same severity the other reports use.

Active only with allure-pytest and ``--alluredir``; allure reads its own marks, which this
plugin adds to each check at collection.
"""

from __future__ import annotations

import pytest

from plugins import scale
from plugins.collection import bound_check


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("allure_pytest") or not config.getoption(
        "allure_report_dir", None
    ):
        return
    for item in items:
        bound = bound_check(item)
        if bound is None:
            continue
        item.add_marker(
            pytest.mark.allure_label(scale.label(bound.severity, "allure"), label_type="severity")
        )
        for ref in bound.spec.ref:
            item.add_marker(pytest.mark.allure_label(ref, label_type="tag"))
        if bound.runbook:
            item.add_marker(
                pytest.mark.allure_link(bound.runbook, link_type="link", name="runbook")
            )
