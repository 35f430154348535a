#!/usr/bin/env bash
# Shared by scripts/demo.sh (`make demo`) and scripts/doctor-local.sh (`make doctor`): the local
# stack and a Gong sandbox with the demo's credentials, each started only when it is not already
# running and stopped again by whoever started it. Sourced, not run; the caller sets `root`.

# The sandbox's credentials: what the demo's bridge and `make doctor` use against it.
export DEMO_ACCESS_KEY=demo-access-key DEMO_ACCESS_KEY_SECRET=demo-access-key-secret

started_stack=0
sandbox_pid=""

# One line on stdout, or on stderr when stdout is gone (`make demo | tee` loses tee to the same
# Ctrl-C that starts the cleanup; a write to the broken pipe must neither kill nor silence it).
note() { printf '%s\n' "$*" 2>/dev/null || printf '%s\n' "$*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts the local stack unless it is running, then exports its connection settings.
local_stack_up() {
  # Toxiproxy is a test-only service: neither built nor started here.
  export STACK_SERVICES="${STACK_SERVICES:-kafka registry redis}"
  if ! bash "$root/scripts/stack/stack.sh" status >/dev/null 2>&1; then
    started_stack=1
    bash "$root/scripts/stack/stack.sh" up
  else
    bash "$root/scripts/stack/stack.sh" status
  fi
  # Only the bridge's own settings: the env file also names the test harness's Toxiproxy.
  local line
  while IFS= read -r line; do
    case "$line" in KAFKA_BROKERS=* | SCHEMA_REGISTRY_URL=* | REDIS_URL=*) export "${line?}" ;; esac
  done <"${STACK_DIR:-$root/.stack}/env"
}

# start_sandbox PORT RATE LOG [RECORD_FILE]: a Gong sandbox with the demo's credentials. It runs in
# a session of its own, so a Ctrl-C in the terminal does not stop it before the bridge has drained
# the calls it has in flight to it; whoever started it stops it (stop_child).
start_sandbox() {
  local port="$1" rate="$2" log="$3" record="${4:-}"
  setsid node "$root/src/cli/main.ts" sandbox --port "$port" --rps "$rate" --daily-limit 10000 \
    --access-key "$DEMO_ACCESS_KEY" --access-key-secret "$DEMO_ACCESS_KEY_SECRET" \
    ${record:+--record "$record"} >"$log" 2>&1 </dev/null &
  sandbox_pid=$!
  local _
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/_sandbox/health" >/dev/null 2>&1 && return 0
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  cat "$log" >&2
  return 1
}

# stop_child PID: SIGTERM, then wait until it has exited. `wait` returns early when a trapped
# signal arrives (a second Ctrl-C), so it is repeated until the process is gone.
stop_child() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do wait "$pid" 2>/dev/null || sleep 0.1; done
}

stop_sandbox() {
  [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2>/dev/null || return 0
  note "  Gong sandbox"
  stop_child "$sandbox_pid"
}

stop_stack_if_started() {
  [ "$started_stack" = 1 ] || return 0
  note "  local stack"
  bash "$root/scripts/stack/stack.sh" down >/dev/null 2>&1 || true
}
