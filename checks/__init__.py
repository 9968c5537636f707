"""Vigil's checks: one module per domain, each function judging one kind of environment entry."""
