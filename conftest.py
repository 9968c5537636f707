"""Wiring only: the plugins and fixture modules every Vigil run loads (the table of contents)."""

pytest_plugins = [
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
]
