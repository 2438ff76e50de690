#!/usr/bin/env bash
# Stages what `pulumi up` bakes into the image, from Pulumi.STACK.yaml (no Pulumi CLI needed): the models
# (downloaded into image/models/<kind>/, checked against their sha256) and the extensions (checked out at
# their pinned commits into image/extensions/<name>/, without .git). Work already done is skipped.
# Usage: scripts/stage-image.sh STACK
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${1:?usage: scripts/stage-image.sh STACK}
command -v git >/dev/null || { echo "stage-image: git is required to stage extensions" >&2; exit 2; }
exec venv/bin/python -m components.model_image.fetch --stack "$stack"
