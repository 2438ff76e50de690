#!/usr/bin/env bash
# Set-up and deploy: checks the stack's required settings, prepares ./venv, stages the stack's models and
# extensions into image/ (scripts/stage-image.sh), runs `pulumi up`, then prints the image's size by layer group. Every pulumi command runs in this directory, so it uses the backend of
# Pulumi.yaml (`backend.url`, ./.pulumi-state) unless PULUMI_BACKEND_URL says otherwise.
# Usage: scripts/deploy.sh STACK [extra `pulumi up` flags]
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${1:?usage: scripts/deploy.sh STACK [pulumi up flags]}
shift
command -v pulumi >/dev/null || { echo "deploy: the Pulumi CLI is required (https://www.pulumi.com/docs/install/)" >&2; exit 2; }
python=${PYTHON:-python3}

mkdir -p .pulumi-state
pulumi stack select --create "$stack"
# Before anything is downloaded or built: a missing setting stops here with the command that sets it.
"$python" -m components.program.preflight "$stack"
scripts/venv.sh requirements.txt
scripts/stage-image.sh "$stack"
pulumi up --stack "$stack" "$@"
# The deploy is done; a size report that fails (no docker CLI here, say) only warns.
if ! venv/bin/python -m components.model_image.layer_sizes --stack "$stack"; then
  echo "deploy: warning: could not print the image's size by layer group (see above); the deploy succeeded" >&2
fi
