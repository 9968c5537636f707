#!/usr/bin/env bash
# The main job on the embedded demo: the morning health check of the seed systems.
# Extra arguments go to pytest, e.g. `bash scripts/demo.sh --env demo-degraded`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pytest -m daily --env demo "$@"
