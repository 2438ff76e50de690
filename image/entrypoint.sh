#!/usr/bin/env bash
# Supervisor for AUTOMATIC1111 on SaladCloud. Starts:
#   - the webui:  $WEBUI_CMD --listen --port $WEBUI_PORT --api [--ckpt <checkpoint>] $CLI_ARGS $WEBUI_EXTRA_ARGS
#   - the bridge: socat from IPv6 [::]:$PORT (dual-stack) to IPv4 127.0.0.1:$WEBUI_PORT
# When either one exits, the other is stopped and the container exits non-zero, so Salad restarts or
# reallocates it. SIGTERM/SIGINT stop both (SIGKILL after STOP_GRACE_SECONDS) and exit 143/130.
#
# Environment:
#   PORT (7860)               public port (Salad's gateway and probes)
#   WEBUI_PORT (7859)         the webui's own IPv4 port
#   WEBUI_CMD                 how to start the webui (python -u webui.py, in the base image's workdir)
#   SD_CHECKPOINT             checkpoint file name under /data/models/Stable-diffusion/ or an absolute path;
#                             empty: no --ckpt, A1111 picks one
#   CLI_ARGS, WEBUI_EXTRA_ARGS extra webui flags (split on whitespace, no quoting)
#   STOP_GRACE_SECONDS (10)   how long SIGTERM waits before SIGKILL
set -Eeuo pipefail

log() { echo "salad-entrypoint: $*" >&2; }

port=${PORT:-7860}
webui_port=${WEBUI_PORT:-7859}
grace=${STOP_GRACE_SECONDS:-10}
checkpoint_dir=/data/models/Stable-diffusion

read -r -a webui_cmd <<<"${WEBUI_CMD:-python -u webui.py}"
read -r -a extra_args <<<"${CLI_ARGS:-} ${WEBUI_EXTRA_ARGS:-}"
webui_args=(--listen --port "$webui_port" --api)
if [ -n "${SD_CHECKPOINT:-}" ]; then
  case $SD_CHECKPOINT in
    /*) checkpoint=$SD_CHECKPOINT ;;
    *) checkpoint=$checkpoint_dir/$SD_CHECKPOINT ;;
  esac
  if [ ! -f "$checkpoint" ]; then
    log "checkpoint $checkpoint does not exist"
    exit 1
  fi
  webui_args+=(--ckpt "$checkpoint")
fi

# Traps first, so a SIGTERM that arrives while the children start still stops them. The children are
# found through the job table, not through $webui_pid: a trap may run right after a child is
# forked and before `$!` is stored, and that child must be stopped too.
webui_pid=""
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
any_alive() {
  local pid
  for pid in "$@"; do
    if alive "$pid"; then return 0; fi
  done
  return 1
}

stop_children() {
  local pids
  mapfile -t pids < <(jobs -p)
  if ((${#pids[@]} == 0)); then return 0; fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local ticks=$((grace * 10)) # tenths of a second
  while any_alive "${pids[@]}"; do
    if ((ticks-- <= 0)); then
      log "still running after ${grace}s, sending SIGKILL"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait 2>/dev/null || true
}

# shellcheck disable=SC2317  # reached through the traps below
on_signal() {
  trap - TERM INT
  log "received SIG$1, stopping"
  stop_children
  if [ "$1" = INT ]; then exit 130; fi
  exit 143
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

log "starting webui: ${webui_cmd[*]} ${webui_args[*]} ${extra_args[*]}"
"${webui_cmd[@]}" "${webui_args[@]}" "${extra_args[@]}" &
webui_pid=$!
log "starting bridge: [::]:$port -> 127.0.0.1:$webui_port"
socat "TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=0" "TCP4:127.0.0.1:$webui_port" &

status=0
wait -n || status=$?
if alive "$webui_pid"; then
  gone="bridge (socat)"
else
  gone="webui"
fi
log "$gone exited with status $status; stopping the container"
stop_children
if [ "$status" -eq 0 ]; then
  status=1
fi
exit "$status"
