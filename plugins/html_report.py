"""pytest-html columns (severity, escalation, runbook) coloured by severity.

Registered only when pytest-html is active, so its hooks are known to pytest.
"""

from __future__ import annotations

import html

import pytest

from plugins.results import properties

COLOURS = {"critical": "#b00020", "high": "#e65100", "medium": "#b8860b", "low": "#546e7a"}


class HtmlColumns:
    """Adds Severity, Escalation and Runbook cells to pytest-html's results table."""

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="severity">Severity</th>')
        cells.insert(3, "<th>Escalation</th>")
        cells.insert(4, "<th>Runbook</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        props = properties(report)
        severity = str(props.get("severity", ""))
        colour = COLOURS.get(severity, "inherit")
        weight = "bold" if severity in ("critical", "high") and report.failed else "normal"
        style = f"color:{colour};font-weight:{weight}"
        cells.insert(2, f'<td class="col-severity" style="{style}">{html.escape(severity)}</td>')
        escalation = ""
        if props.get("escalate_to"):
            level, within = props.get("escalation_level"), props.get("respond_within", "")
            escalation = f"L{level} {props['escalate_to']}, {within}"
        cells.insert(3, f"<td>{html.escape(escalation)}</td>")
        runbook = str(props.get("runbook", ""))
        link = f'<a href="{html.escape(runbook)}">runbook</a>' if runbook else ""
        cells.insert(4, f"<td>{link}</td>")


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlColumns(), "vigil-html-columns")
