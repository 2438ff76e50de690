#!/usr/bin/env bash
# Prepares ./venv and installs REQUIREMENTS_FILE into it, skipping pip when nothing changed since last time.
# Usage: scripts/venv.sh requirements.txt | requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=${1:?usage: scripts/venv.sh REQUIREMENTS_FILE}
[ -x venv/bin/python ] || "${PYTHON:-python3}" -m venv venv
stamp=venv/.requirements.sha256
want=$(cat "$requirements" requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
