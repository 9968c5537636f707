"""Unit tests of plain functions (no pytest run inside)."""
