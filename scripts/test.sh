#!/usr/bin/env bash
# The project's test command: prepares ./venv from the pinned requirements, then lints, type-checks and tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k client -x).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x venv/bin/python ]; then
  "$python" -m venv venv
fi
stamp=venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

echo "== ruff"
venv/bin/ruff check .
echo "== mypy"
venv/bin/mypy
echo "== pytest"
venv/bin/python -m pytest "$@"
