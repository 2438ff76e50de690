#!/usr/bin/env bash
# The stand-in base's entrypoint: the directory links of the real a1111 image's /docker/entrypoint.sh
# (models, embeddings, extensions and the HF cache live under /data), then exec "$@".
set -Eeuo pipefail

declare -A mounts=(
  ["/root/.cache"]="/data/.cache"
  ["$ROOT/models"]="/data/models"
  ["$ROOT/embeddings"]="/data/embeddings"
  ["$ROOT/extensions"]="/data/config/auto/extensions"
)
for to_path in "${!mounts[@]}"; do
  from_path=${mounts[$to_path]}
  rm -rf "$to_path"
  mkdir -p "$from_path" "$(dirname "$to_path")"
  ln -sT "$from_path" "$to_path"
done

exec "$@"
