"""Integration tests: real services (or wire-level simulators) started by the testbed."""
