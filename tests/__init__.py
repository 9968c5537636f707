"""Vigil's own tests: plugin tests (pytester), unit tests and integration tests."""
