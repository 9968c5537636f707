#!/usr/bin/env bash
# The project's tests: lint, types, then the suite's own tests (plugin, unit, integration).
# Integration tests run against real services the testbed starts; none may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Two workers: the integration tests mostly wait on the servers they start.
exec .venv/bin/pytest -c tests/pytest.ini -n 2 tests "$@"
