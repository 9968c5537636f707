"""Vigil's pytest plugins, one concern per module; this list is the table of contents.

The root ``conftest.py`` loads these for every run of the checks; the suite's own plugin
tests pass them to pytester with ``-p``.
"""

DEFAULT_PLUGINS = (
    "plugins.environment",
    "plugins.testbed",
    "plugins.collection",
    "plugins.shard",
    "plugins.severity",
    "plugins.observation",
    "plugins.recheck",
    "plugins.summary",
    "plugins.gate",
    "plugins.reports",
    "plugins.html_report",
    "plugins.allure_labels",
    "fixtures.observation",
)
