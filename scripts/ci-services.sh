#!/usr/bin/env bash
# Installs and starts what the image tests need: a Docker engine (its own data root and socket under
# /tmp, no iptables, no bridge), a loopback registry on 127.0.0.1:5000, socat, shellcheck and
# debootstrap. Idempotent: a daemon or registry that already answers is reused.
#
# Writes $SALAD_SD_SERVICES_DIR/env (default /tmp/salad-sd-services/env) with DOCKER_HOST and
# SALAD_SD_REGISTRY; the tests read it when DOCKER_HOST is not set. Exits non-zero, saying why, when
# something cannot be installed or started.
#
# Knobs: SALAD_SD_SERVICES_DIR, SALAD_SD_STORAGE_DRIVER (overlay2, falls back to vfs),
# SALAD_SD_REGISTRY_ADDR (127.0.0.1:5000).
set -euo pipefail

state=${SALAD_SD_SERVICES_DIR:-/tmp/salad-sd-services}
driver=${SALAD_SD_STORAGE_DRIVER:-overlay2}
registry_addr=${SALAD_SD_REGISTRY_ADDR:-127.0.0.1:5000}
sock="$state/docker.sock"

die() {
  echo "ci-services: $*" >&2
  exit 1
}
say() { echo "ci-services: $*"; }

# Polls a command until it succeeds or `seconds` pass.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2
  done
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v socat >/dev/null || missing+=(socat)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    die "missing ${missing[*]} and not root: install them with apt-get first"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$state/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $state/apt.log"
}

# The Debian engine's own client speaks its API version; any client works with an explicit host.
docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

daemon_up() { docker_cli -H "unix://$sock" version --format '{{.Server.Version}}'; }

start_dockerd() {
  if daemon_up >/dev/null 2>&1; then
    say "dockerd already answers on $sock"
    return 0
  fi
  local try
  for try in "$driver" vfs; do
    say "starting dockerd (storage driver $try)"
    rm -f "$state/dockerd.pid" "$sock"
    setsid dockerd --storage-driver="$try" --iptables=false --ip6tables=false --bridge=none \
      --data-root "$state/data-$try" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
      -H "unix://$sock" >"$state/dockerd.log" 2>&1 </dev/null &
    if wait_for 60 daemon_up; then
      say "dockerd $(daemon_up) ready on $sock"
      return 0
    fi
    if [ -f "$state/dockerd.pid" ]; then
      kill "$(cat "$state/dockerd.pid")" 2>/dev/null || true
    fi
    tail -n 20 "$state/dockerd.log" >&2 || true
  done
  die "dockerd did not start; see $state/dockerd.log"
}

registry_up() { python3 -c "import urllib.request,sys; urllib.request.urlopen('http://$registry_addr/v2/', timeout=2)"; }

start_registry() {
  if registry_up >/dev/null 2>&1; then
    say "registry already answers on $registry_addr"
    return 0
  fi
  mkdir -p "$state/registry-data"
  cat >"$state/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $state/registry-data}, delete: {enabled: true}}
http: {addr: $registry_addr}
EOF
  say "starting registry on $registry_addr"
  setsid docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 </dev/null &
  echo $! >"$state/registry.pid"
  wait_for 30 registry_up || die "registry did not answer on $registry_addr; see $state/registry.log"
}

mkdir -p "$state"
install_packages
start_dockerd
start_registry
cat >"$state/env" <<EOF
DOCKER_HOST=unix://$sock
SALAD_SD_REGISTRY=$registry_addr
EOF
say "wrote $state/env (DOCKER_HOST=unix://$sock, SALAD_SD_REGISTRY=$registry_addr)"
