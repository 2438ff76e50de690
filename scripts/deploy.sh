#!/usr/bin/env bash
# Set-up and deploy: prepares ./venv, fetches the stack's models into image/models/, then `pulumi up`.
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
venv/bin/python -m components.model_image.fetch --stack "$stack"
pulumi up --stack "$stack" "$@"
