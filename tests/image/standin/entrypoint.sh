#!/bin/bash
# The stand-in base's /docker/entrypoint.sh. It does what the real one (AbdBarho's
# stable-diffusion-webui-docker, services/AUTOMATIC1111/entrypoint.sh, used by Salad's a1111 images)
# does, in the same order, at every start, under `set -e`: user scripts linked in, config.json written
# by /docker/config.py, VAE-approx/karlo synced, the /data links, then every enabled extension's
# install.py (a failure ends the container), an optional startup.sh, and finally `exec "$@"`.
set -Eeuo pipefail

mkdir -p /data/config/auto/scripts/
find "${ROOT}/scripts/" -maxdepth 1 -type l -delete
cp -rfTs /data/config/auto/scripts/ "${ROOT}/scripts/"

python /docker/config.py /data/config/auto/config.json
[ -f /data/config/auto/ui-config.json ] || echo '{}' >/data/config/auto/ui-config.json
[ -f /data/config/auto/styles.csv ] || touch /data/config/auto/styles.csv

mkdir -p /data/models/VAE-approx/ /data/models/karlo/
rsync -a "${ROOT}/models/VAE-approx/" /data/models/VAE-approx/
rsync -a "${ROOT}/models/karlo/" /data/models/karlo/

declare -A mounts=(
  ["/root/.cache"]="/data/.cache"
  ["${ROOT}/models"]="/data/models"
  ["${ROOT}/embeddings"]="/data/embeddings"
  ["${ROOT}/config.json"]="/data/config/auto/config.json"
  ["${ROOT}/ui-config.json"]="/data/config/auto/ui-config.json"
  ["${ROOT}/styles.csv"]="/data/config/auto/styles.csv"
  ["${ROOT}/extensions"]="/data/config/auto/extensions"
  ["${ROOT}/config_states"]="/data/config/auto/config_states"
  ["${ROOT}/repositories/CodeFormer/weights/facelib"]="/data/.cache"
)
for to_path in "${!mounts[@]}"; do
  from_path=${mounts[$to_path]}
  rm -rf "$to_path"
  if [ ! -f "$from_path" ]; then
    mkdir -p "$from_path"
  fi
  mkdir -p "$(dirname "$to_path")"
  ln -sT "$from_path" "$to_path"
  echo "Mounted $(basename "$from_path")"
done

echo "Installing extension dependencies (if any)"
chown -R root ~/.cache/
chmod 766 ~/.cache/

shopt -s nullglob
for installer in ./extensions/*/install.py; do
  name=$(echo "$installer" | cut -d / -f 3)
  # Like the real one, a config without disabled_extensions makes jq fail, which counts as "enabled".
  if [ "$(jq -e ".disabled_extensions|any(. == \"$name\")" config.json || true)" = true ]; then
    echo "Skipping disabled extension ($name)"
    continue
  fi
  PYTHONPATH=${ROOT} python "$installer"
done

if [ -f /data/config/auto/startup.sh ]; then
  pushd "${ROOT}"
  echo "Running startup script"
  # shellcheck disable=SC1091  # the user's script, if any
  . /data/config/auto/startup.sh
  popd
fi

exec "$@"
