#!/usr/bin/env bash
# `make demo`: the bridge's main job on local defaults. It starts the local stack (real Kafka,
# Apicurio Registry, Redis), a Gong sandbox that behaves as Gong's API spec says, produces sample
# interaction events (a few deliberately invalid), runs `gong-bridge run`, shows live progress and
# ends with a summary of what "Gong" received. One Ctrl-C at any point drains the bridge (its
# in-flight calls finish and are committed) and stops everything the demo started, whether or not
# the output is piped (`make demo | tee demo.log`).
#
# Knobs: DEMO_EVENTS (default 60), DEMO_RATE (Gong calls/s, default 3 as in a real account),
#        DEMO_INVALID_RATIO (default 0.05), DEMO_KEEP=1 keeps the bridge running after the summary,
#        DEMO_SANDBOX_PORT (default 8089), DEMO_HTTP_PORT (the bridge's metrics, default 9464).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PATH="$(scripts/ensure-node.sh):$PATH"
# shellcheck source=scripts/local.sh
. "$root/scripts/local.sh"

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

bridge_pid=""
cleanup() {
  local status=$?
  trap - EXIT
  # Nothing may cut the cleanup short: a write to a stdout that is gone fails quietly (note falls
  # back to stderr), and a second Ctrl-C only says that it is already stopping (the bridge itself
  # takes repeats within 3 s as the same request, and a later one as "exit now").
  trap '' PIPE
  trap 'note "  already stopping: the bridge drains first, then the rest stops"' INT TERM
  set +e
  note ""
  note "Stopping what the demo started"
  if [ -n "$bridge_pid" ] && kill -0 "$bridge_pid" 2>/dev/null; then
    note "  bridge: draining in-flight calls and committing before it exits (log: $demo_dir/bridge.log)"
    stop_child "$bridge_pid"
    if grep -q 'gong-bridge stopped' "$demo_dir/bridge.log" 2>/dev/null; then
      note "  bridge: stopped"
    else
      note "  bridge: exited without draining; see $demo_dir/bridge.log"
    fi
  fi
  stop_sandbox
  stop_stack_if_started
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A reader that went away (tee killed by the same Ctrl-C, `| head`) ends the script through its
# cleanup, instead of SIGPIPE killing it before the cleanup could run. (A trap, unlike ignoring
# the signal, leaves the children's SIGPIPE alone.)
trap 'exit 141' PIPE

for port in "$sandbox_port" "$http_port"; do
  port_free "$port" || { echo "demo: port $port is in use; set DEMO_SANDBOX_PORT / DEMO_HTTP_PORT" >&2; exit 2; }
done

bold "gong-bridge demo"
say "Kafka -> gong-bridge -> Gong, all local: $events sample events at $rate Gong calls/s."
say

bold "1/5 Local stack: Apache Kafka (KRaft), Apicurio Registry, Redis"
local_stack_up
say

bold "2/5 Gong sandbox on http://127.0.0.1:$sandbox_port (spec-faithful: auth, 400/409/429, $rate calls/s)"
start_sandbox "$sandbox_port" "$rate" "$demo_dir/sandbox.log" "$demo_dir/gong-received.jsonl"
say "  what it accepts is appended to $demo_dir/gong-received.jsonl"
say

bold "3/5 Producing $events sample events to topic $topic"
say "  Avro, registered in the schema registry, Confluent framing; about $(awk "BEGIN{print int($invalid_ratio*100)}")% are"
say "  deliberately invalid for Gong, so you can see them go to the dead-letter topic."
node src/cli/main.ts produce-sample --count "$events" --topic "$topic" --invalid-ratio "$invalid_ratio"
say

bold "4/5 Starting gong-bridge run (metrics and health on http://127.0.0.1:$http_port)"
export KAFKA_TOPICS="$topic" KAFKA_GROUP_ID="gong-bridge-demo" \
  GONG_BASE_URL="http://127.0.0.1:$sandbox_port" GONG_ACCESS_KEY="$DEMO_ACCESS_KEY" \
  GONG_ACCESS_KEY_SECRET="$DEMO_ACCESS_KEY_SECRET" GONG_RATE_PER_SECOND="$rate" \
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
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  say "             (served until you press Ctrl-C)"
else
  say "             (served by the bridge, which the demo now stops; DEMO_KEEP=1 keeps it up until Ctrl-C)"
fi
say "  received:  $demo_dir/gong-received.jsonl (one Gong request body per line)"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  say
  bold "The bridge keeps running (DEMO_KEEP=1). Ctrl-C stops everything the demo started."
  wait "$bridge_pid"
fi
