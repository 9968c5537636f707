"""Report files: the JSON summary, and default paths for JUnit XML and pytest-html.

Files are written once, on the controller, from report data, so ``-n 4`` and a serial run
write the same files. ``--reports-dir`` moves them; ``--no-reports`` writes none.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from plugins import scale
from plugins.results import RunSummary
from plugins.summary import run_summary

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
METRICS_FILE = "vigil.prom"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vigil")
    group.addoption(
        "--reports-dir",
        dest="vigil_reports_dir",
        default=None,
        metavar="DIR",
        help="where run artifacts go (default: reports/ in the project)",
    )
    group.addoption(
        "--no-reports", action="store_true", dest="vigil_no_reports", help="write no report files"
    )


def reports_dir(config: pytest.Config) -> Path | None:
    """The directory report files go to, or None with ``--no-reports``."""
    if config.getoption("vigil_no_reports", False):
        return None
    chosen = config.getoption("vigil_reports_dir", None)
    return Path(chosen) if chosen else Path(config.rootpath) / "reports"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    directory = reports_dir(config)
    if directory is None or hasattr(config, "workerinput") or config.option.help:
        return
    # Before junitxml's and pytest-html's own configure read these options.
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(directory / "junit.xml")
    if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        config.option.htmlpath = str(directory / "report.html")
        config.option.self_contained_html = True


def summary_document(summary: RunSummary) -> dict[str, Any]:
    """The JSON summary: each check's outcome and details, counts, the roll-up."""
    incident = summary.incident
    return {
        "environment": summary.environment,
        "counts": summary.counts,
        "incident": None if incident is None else incident.__dict__,
        "checks": [result.to_json() for result in summary.results],
    }


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    directory = reports_dir(config)
    summary = run_summary(config)
    if directory is None or summary is None or hasattr(config, "workerinput"):
        return
    document = summary_document(summary)
    write_atomically(
        directory / SUMMARY_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n"
    )
    write_atomically(directory / METRICS_FILE, metrics_text(summary))


def metrics_text(summary: RunSummary) -> str:
    """The run as Prometheus text (node_exporter's textfile collector, or a Pushgateway)."""
    env = _label(summary.environment)
    lines = [
        "# HELP vigil_check_up 1 when the check passed, 0 when it failed or could not observe.",
        "# TYPE vigil_check_up gauge",
    ]
    for result in summary.results:
        if result.outcome == "skipped":
            continue
        labels = (
            f'environment="{env}",check="{_label(result.check)}",kind="{_label(result.kind)}",'
            f'severity="{result.severity}",outcome="{result.outcome}"'
        )
        lines.append(f"vigil_check_up{{{labels}}} {1 if result.outcome == 'passed' else 0}")
    lines += ["# HELP vigil_checks Checks by outcome in the last run.", "# TYPE vigil_checks gauge"]
    for outcome, count in summary.counts.items():
        lines.append(f'vigil_checks{{environment="{env}",outcome="{outcome}"}} {count}')
    rank = scale.rank(summary.incident.severity) if summary.incident else 0
    lines += [
        "# HELP vigil_incident_rank Rolled-up incident severity: 0 none, 1 low .. 4 critical.",
        "# TYPE vigil_incident_rank gauge",
        f'vigil_incident_rank{{environment="{env}"}} {rank}',
    ]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
