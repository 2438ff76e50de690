#!/usr/bin/env bash
# Set-up and deploy: prepares ./venv, stages the stack's models and extensions into image/ (stage-image.sh),
# runs `pulumi up`, then prints the deployed image's size by layer group.
# Usage: scripts/deploy.sh STACK [extra `pulumi up` flags]
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${1:?usage: scripts/deploy.sh STACK [pulumi up flags]}
shift
command -v pulumi >/dev/null || { echo "deploy: the Pulumi CLI is required (https://www.pulumi.com/docs/install/)" >&2; exit 2; }

scripts/venv.sh requirements.txt

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
mkdir -p .pulumi-state
pulumi stack select --create "$stack"
scripts/stage-image.sh "$stack"
pulumi up --stack "$stack" "$@"
if image=$(pulumi stack output image --stack "$stack" 2>/dev/null) && [ -n "$image" ]; then
  venv/bin/python -m components.model_image.layer_sizes "$image" || true
fi
