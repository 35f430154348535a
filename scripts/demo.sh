#!/usr/bin/env bash
# `make demo`: the bridge's main job on local defaults. It starts the local stack (real Kafka,
# Apicurio Registry, Redis), a Gong sandbox that behaves as Gong's API spec says, produces sample
# interaction events (a few deliberately invalid), runs `gong-bridge run`, shows live progress and
# ends with a summary of what "Gong" received. Ctrl-C at any point stops everything it started.
#
# Knobs: DEMO_EVENTS (default 60), DEMO_RATE (Gong calls/s, default 3 as in a real account),
#        DEMO_INVALID_RATIO (default 0.05), DEMO_KEEP=1 keeps the bridge running after the summary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PATH="$(scripts/ensure-node.sh):$PATH"

events="${DEMO_EVENTS:-60}"
rate="${DEMO_RATE:-3}"
invalid_ratio="${DEMO_INVALID_RATIO:-0.05}"
sandbox_port="${DEMO_SANDBOX_PORT:-8089}"
http_port="${DEMO_HTTP_PORT:-9464}"
topic="demo.interactions.$(date +%s)"
demo_dir="${STACK_DIR:-$root/.stack}/demo"
mkdir -p "$demo_dir"
rm -f "$demo_dir/gong-received.jsonl"

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
say() { printf '%s\n' "$*"; }

started_stack=0
sandbox_pid=""
bridge_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  echo
  bold "Stopping what the demo started"
  if [ -n "$bridge_pid" ] && kill -0 "$bridge_pid" 2>/dev/null; then
    say "  bridge: SIGTERM, it drains in-flight calls and commits before exiting"
    kill -TERM "$bridge_pid" 2>/dev/null || true
    wait "$bridge_pid" 2>/dev/null || true
  fi
  if [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2>/dev/null; then
    say "  Gong sandbox"
    kill -TERM "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  if [ "$started_stack" = 1 ]; then
    say "  local stack"
    bash scripts/stack/stack.sh down >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$sandbox_port" "$http_port"; do
  port_free "$port" || { echo "demo: port $port is in use; set DEMO_SANDBOX_PORT / DEMO_HTTP_PORT" >&2; exit 2; }
done

bold "gong-bridge demo"
say "Kafka -> gong-bridge -> Gong, all local: $events sample events at $rate Gong calls/s."
say

bold "1/5 Local stack: Apache Kafka (KRaft), Apicurio Registry, Redis"
# The demo needs no network faults, so Toxiproxy (a test-only service) is neither built nor started.
export STACK_SERVICES="${STACK_SERVICES:-kafka registry redis}"
if ! bash scripts/stack/stack.sh status >/dev/null 2>&1; then
  started_stack=1
  bash scripts/stack/stack.sh up
else
  bash scripts/stack/stack.sh status
fi
# shellcheck disable=SC1091
set -a; . "${STACK_DIR:-$root/.stack}/env"; set +a
say

bold "2/5 Gong sandbox on http://127.0.0.1:$sandbox_port (spec-faithful: auth, 400/409/429, $rate calls/s)"
node src/cli/main.ts sandbox --port "$sandbox_port" --rps "$rate" --daily-limit 10000 \
  --access-key demo-access-key --access-key-secret demo-access-key-secret \
  --record "$demo_dir/gong-received.jsonl" >"$demo_dir/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$sandbox_port/_sandbox/health" >/dev/null 2>&1 && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$demo_dir/sandbox.log"; exit 1; }
  sleep 0.2
done
say "  what it accepts is appended to $demo_dir/gong-received.jsonl"
say

bold "3/5 Producing $events sample events to topic $topic"
say "  Avro, registered in the schema registry, Confluent framing; about $(awk "BEGIN{print int($invalid_ratio*100)}")% are"
say "  deliberately invalid for Gong, so you can see them go to the dead-letter topic."
node src/cli/main.ts produce-sample --count "$events" --topic "$topic" --invalid-ratio "$invalid_ratio"
say

bold "4/5 Starting gong-bridge run (metrics and health on http://127.0.0.1:$http_port)"
export KAFKA_TOPICS="$topic" KAFKA_GROUP_ID="gong-bridge-demo" \
  GONG_BASE_URL="http://127.0.0.1:$sandbox_port" GONG_ACCESS_KEY=demo-access-key \
  GONG_ACCESS_KEY_SECRET=demo-access-key-secret GONG_RATE_PER_SECOND="$rate" \
  HTTP_PORT="$http_port" HTTP_HOST=127.0.0.1 LOG_LEVEL=info COMMIT_INTERVAL_MS=1000
node src/cli/main.ts run >"$demo_dir/bridge.log" 2>&1 &
bridge_pid=$!
say "  log: $demo_dir/bridge.log"
say

bold "5/5 Live progress (the limiter holds Gong to $rate calls in any rolling second)"
node scripts/demo-watch.ts --metrics "http://127.0.0.1:$http_port/metrics" \
  --sandbox "http://127.0.0.1:$sandbox_port" --expect "$events" --timeout-s $((events / rate + 120)) \
  --pid "$bridge_pid" || { say "  see $demo_dir/bridge.log:"; tail -n 5 "$demo_dir/bridge.log" | sed 's/^/    /'; }
say

bold "Summary"
node scripts/demo-summary.ts --metrics "http://127.0.0.1:$http_port/metrics" \
  --sandbox "http://127.0.0.1:$sandbox_port" --topic "$topic" --record "$demo_dir/gong-received.jsonl"
say
say "  metrics:   http://127.0.0.1:$http_port/metrics   readiness: http://127.0.0.1:$http_port/readyz"
say "  received:  $demo_dir/gong-received.jsonl (one Gong request body per line)"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  say
  bold "The bridge keeps running (DEMO_KEEP=1). Ctrl-C stops everything the demo started."
  wait "$bridge_pid"
fi
