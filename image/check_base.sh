#!/usr/bin/env bash
# Build step, right after FROM: fails with a clear message when the base image is not the AUTOMATIC1111
# base this image is made for (saladtechnologies/a1111:ipv6-*, which follows AbdBarho's
# stable-diffusion-webui-docker layout). Run in the base's working directory.
#   check_base.sh [ENTRYPOINT]   the base's setup script (default /docker/entrypoint.sh)
set -euo pipefail

entry=${1:-/docker/entrypoint.sh}
problems=()
if [ ! -f "$entry" ]; then
  problems+=("no $entry (the base's setup: config, /data links, extension installs)")
else
  # `|| true`: a file of only comments and blank lines makes grep exit 1, which must reach the report.
  last=$({ grep -Ev '^[[:space:]]*(#.*)?$' "$entry" || true; } | tail -n 1 | tr -d '[:space:]')
  if [ "$last" != 'exec"$@"' ]; then
    problems+=("$entry does not end in exec \"\$@\" (the supervisor runs it as \`$entry true\`)")
  fi
fi
[ -f webui.py ] || problems+=("no webui.py in the working directory $(pwd)")
command -v socat >/dev/null || problems+=("no socat on PATH (the IPv6 bridge)")
command -v python >/dev/null || problems+=("no python on PATH")
if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
  problems+=("bash $BASH_VERSION is older than 5.1 (the supervisor uses wait -n -p)")
fi

if ((${#problems[@]} > 0)); then
  echo "base image check failed: this is not the AUTOMATIC1111 base salad-sd builds on" \
    "(salad-sd:image.baseImage; default saladtechnologies/a1111:ipv6-v1.9.4):" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "base image check: ok ($(pwd)/webui.py, $entry ending in exec \"\$@\", socat, python, bash $BASH_VERSION)"
