#!/usr/bin/env bash
# Set up everything Vigil needs on this machine, idempotently:
#   - as root: the Debian packages of the real services (scripts/install-services.sh) and
#     python3-venv if Python cannot make a virtualenv;
#   - a virtualenv at .venv with the project's pinned dependencies (re-installed only when
#     pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Vigil needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

if [[ "$(id -u)" -eq 0 ]]; then
  if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  bash scripts/install-services.sh
else
  bash scripts/install-services.sh || echo "setup: continuing without some services (see above)" >&2
fi

if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.vigil-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.vigil-installed-*
  touch "$stamp"
fi
