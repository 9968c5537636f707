"""Wiring only: the plugins and fixture modules every Vigil run loads (see plugins/__init__.py)."""

from plugins import DEFAULT_PLUGINS

pytest_plugins = list(DEFAULT_PLUGINS)
