"""Testbed for Vigil integration tests: real services and wire-level simulations."""
