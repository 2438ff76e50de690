#!/usr/bin/env bash
# The project's test command: prepares ./venv from the pinned requirements, then lints, type-checks and tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k client -x).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv.sh requirements-dev.txt

echo "== ruff"
venv/bin/ruff check .
echo "== mypy"
venv/bin/mypy
echo "== pytest"
venv/bin/python -m pytest "$@"
