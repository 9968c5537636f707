"""A simulation of Grafana Loki's HTTP API: push, query, query_range over a LogQL subset."""
