"""Vigil's pytest plugins, one concern per module (see conftest.py for the list)."""
