#!/usr/bin/env bash
# Supervisor for AUTOMATIC1111 on SaladCloud, the image's ENTRYPOINT: PID 1 from the container's start,
# its traps set before anything else. In order, each child in its own process group:
#   1. the base image's own setup, `$BASE_ENTRYPOINT true` (config write, /data links, every
#      extension's install.py, then `exec "$@"`, i.e. `true`); processes it leaves running (a daemon
#      from startup.sh) get SIGTERM, then SIGKILL after STOP_GRACE_SECONDS;
#   2. the webui, `$WEBUI_CMD --listen --port $WEBUI_PORT --api --no-download-sd-model [--xformers]
#      [--ckpt <checkpoint>] $CLI_ARGS $WEBUI_EXTRA_ARGS`, with the warm-up beside it: a 1-step 64x64
#      txt2img on 127.0.0.1:$WEBUI_PORT, retried until it answers an image;
#   3. once the warm-up succeeded: the bridge, socat from IPv6 [::]:$PORT (dual-stack) to IPv4
#      127.0.0.1:$WEBUI_PORT, so Salad's probes and the gateway reach the webui only when it can
#      generate; and with SALAD_SD_QUEUE_WORKER=1, Salad's job-queue worker.
# When any child exits, the others are stopped and the container exits non-zero, so Salad restarts or
# reallocates it. SIGTERM/SIGINT, whenever they come once the traps are set, stop every process group
# (SIGKILL after STOP_GRACE_SECONDS) and exit 143/130. Before that, during the few milliseconds of bash's
# own start-up, PID 1 has no handler and the kernel drops those signals (docker stop then waits for its
# SIGKILL): a window no script can close.
#
# Environment:
#   PORT (7860)                public port (Salad's gateway and probes)
#   WEBUI_PORT (7859)          the webui's own IPv4 port
#   WEBUI_CMD                  how to start the webui (python -u webui.py, in the base image's workdir)
#   SD_CHECKPOINT              checkpoint file name under /data/models/Stable-diffusion/ or an absolute
#                              path; empty: no --ckpt
#   CLI_ARGS, WEBUI_EXTRA_ARGS extra webui flags (split on whitespace, no quoting); the flags listed in
#                              refused-webui-flags.txt, and their prefixes, are refused (exit 2)
#   SALAD_SD_XFORMERS (1)      0: start the webui without --xformers
#   SALAD_SD_QUEUE_WORKER (0)  1: also run the job-queue worker ($QUEUE_WORKER_CMD)
#   QUEUE_WORKER_CMD           default /usr/local/bin/salad-http-job-queue-worker
#   BASE_ENTRYPOINT            the base image's setup (/docker/entrypoint.sh); empty: none
#   WARMUP_TIMEOUT_SECONDS     how long the warm-up may take (1800)
#   SALAD_PYTHON (python)      the interpreter for the warm-up
#   STOP_GRACE_SECONDS (10)    how long SIGTERM waits before SIGKILL

# Signal handling first: PID 1 drops every signal it has no handler for, so nothing may come before it.
groups=()         # the process group of every child started (each child leads its own)
declare -A names  # child pid -> what it is, for the log
log() { echo "salad-entrypoint: $*" >&2; }
# Whether process group $1 has a live member. Zombies do not count: an orphaned grandchild waits, dead,
# for its reaper (PID 1 in the container, but init or a subreaper elsewhere), and must not hold us up.
group_alive() {
  kill -0 -- "-$1" 2>/dev/null || return 1
  local stat line state pgrp
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    read -r state _ pgrp _ <<<"${line##*) }"
    if [ "$pgrp" = "$1" ] && [ "$state" != Z ]; then return 0; fi
  done
  return 1
}
# stop_groups GROUP...: SIGTERM to each process group, SIGKILL to those left after STOP_GRACE_SECONDS.
stop_groups() {
  local all=("$@") group grace=${STOP_GRACE_SECONDS:-10}
  ((${#all[@]} == 0)) && return 0
  for group in "${all[@]}"; do kill -TERM -- "-$group" 2>/dev/null; done
  local ticks=$((grace * 10)) # tenths of a second
  while :; do
    local alive=()
    for group in "${all[@]}"; do group_alive "$group" && alive+=("$group"); done
    ((${#alive[@]} == 0)) && break
    if ((ticks-- <= 0)); then
      log "still running after ${grace}s, sending SIGKILL"
      for group in "${alive[@]}"; do kill -KILL -- "-$group" 2>/dev/null; done
      break
    fi
    sleep 0.1
  done
  return 0
}
stop_children() {
  # The job table as well as `groups`: a signal may arrive after a fork and before `$!` is stored.
  local listed
  mapfile -t listed < <(jobs -p)
  stop_groups "${groups[@]}" "${listed[@]}"
  wait 2>/dev/null
  return 0
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
set -m # job control: every background child gets its own process group
set -uo pipefail # no -e: the supervisor decides what a failure means

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
port=${PORT:-7860}
webui_port=${WEBUI_PORT:-7859}
checkpoint_dir=/data/models/Stable-diffusion
base_entrypoint=${BASE_ENTRYPOINT-/docker/entrypoint.sh}
queue_worker_cmd=${QUEUE_WORKER_CMD:-/usr/local/bin/salad-http-job-queue-worker}

# start NAME COMMAND...: a supervised child, in its own process group.
start() {
  local name=$1
  shift
  "$@" &
  groups+=("$!")
  names[$!]=$name
}

# The next child to exit: sets `exited` (its name) and `status`.
next_exit() {
  local pid=""
  status=0
  wait -n -p pid || status=$?
  exited=${names[${pid:-0}]:-"a child"}
}

fail() {
  log "$1; stopping the container"
  stop_children
  exit "$2"
}

read -r -a webui_cmd <<<"${WEBUI_CMD:-python -u webui.py}"
read -r -a extra_args <<<"${CLI_ARGS:-} ${WEBUI_EXTRA_ARGS:-}"
# The rule of components/model_image/webui_flags.py: a refused flag, or a strict prefix of one (A1111's
# argparse expands unique prefixes) that is not an A1111 flag of its own (an `allow` line).
declare -A refused_reason allowed_flag
while read -r flag reason; do
  [[ -z $flag || $flag == \#* ]] && continue
  if [ "$flag" = allow ]; then
    allowed_flag[${reason%% *}]=1
  else
    refused_reason[$flag]=$reason
  fi
done <"$here/refused-webui-flags.txt"
for arg in "${extra_args[@]}"; do
  flag=${arg%%=*}
  if [ -n "${refused_reason[$flag]+set}" ]; then
    log "refusing $flag in CLI_ARGS/WEBUI_EXTRA_ARGS: ${refused_reason[$flag]}"
    exit 2
  fi
  if [[ $flag != --?* || -n ${allowed_flag[$flag]+set} ]]; then continue; fi
  for refused in "${!refused_reason[@]}"; do
    if [[ $refused == "$flag"* ]]; then
      log "refusing $flag in CLI_ARGS/WEBUI_EXTRA_ARGS: a prefix of $refused, which A1111 accepts for it:" \
        "${refused_reason[$refused]}"
      exit 2
    fi
  done
done

webui_args=(--listen --port "$webui_port" --api --no-download-sd-model)
if [ "${SALAD_SD_XFORMERS:-1}" != 0 ]; then
  webui_args+=(--xformers)
fi
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
queue_worker=0
if [ "${SALAD_SD_QUEUE_WORKER:-0}" = 1 ]; then
  read -r -a queue_worker_argv <<<"$queue_worker_cmd"
  if ! command -v "${queue_worker_argv[0]}" >/dev/null; then
    log "SALAD_SD_QUEUE_WORKER=1 but the image has no job-queue worker at ${queue_worker_argv[0]}" \
      "(build it with salad-sd:image.queueWorker set)"
    exit 1
  fi
  queue_worker=1
fi

if [ -n "$base_entrypoint" ]; then
  log "running the base image's setup: $base_entrypoint"
  start "base setup ($base_entrypoint)" "$base_entrypoint" true
  next_exit
  if [ "$status" -ne 0 ]; then
    fail "$exited exited with status $status" "$status"
  fi
  setup_group=${groups[0]}
  if group_alive "$setup_group"; then
    # E.g. a daemon started by /data/config/auto/startup.sh: they do not survive (image/README.md).
    log "the base image's setup left processes running; stopping them"
    stop_groups "$setup_group"
  fi
  groups=()
fi

log "starting webui: ${webui_cmd[*]} ${webui_args[*]} ${extra_args[*]}"
start webui "${webui_cmd[@]}" "${webui_args[@]}" "${extra_args[@]}"
start warm-up "${SALAD_PYTHON:-python}" -u "$here/warm_up.py"
next_exit
if [ "$exited" != warm-up ] || [ "$status" -ne 0 ]; then
  fail "$exited exited with status $status before the webui could generate" "$((status == 0 ? 1 : status))"
fi

log "webui can generate; starting bridge: [::]:$port -> 127.0.0.1:$webui_port"
start "bridge (socat)" socat "TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=0" "TCP4:127.0.0.1:$webui_port"
if ((queue_worker)); then
  log "starting the job-queue worker: ${queue_worker_argv[*]}"
  start "queue worker" "${queue_worker_argv[@]}"
fi

next_exit
fail "$exited exited with status $status" "$((status == 0 ? 1 : status))"
