#!/usr/bin/env bash
# `make doctor`: `gong-bridge doctor --gong-auth` against the local setup `make demo` uses, so that
# out of the box it checks something real and passes:
#   - the local stack (Kafka, Apicurio Registry, Redis), started when it is not running and
#     stopped again afterwards;
#   - a Gong sandbox with the demo's credentials on DEMO_SANDBOX_PORT (default 8089), likewise;
#     --gong-auth spends one call of the sandbox's quota, never a real account's;
#   - the demo's consumer group, and an input topic with its registered subject: KAFKA_TOPICS, or
#     else demo.interactions, which gets one sample event (creating the topic and registering the
#     schema) when its subject is missing.
# Extra doctor flags: DOCTOR_FLAGS, e.g. `make doctor DOCTOR_FLAGS=--json`. For a real deployment's
# settings, run `gong-bridge doctor` itself with them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PATH="$(scripts/ensure-node.sh):$PATH"
# shellcheck source=scripts/local.sh
. "$root/scripts/local.sh"

sandbox_port="${DEMO_SANDBOX_PORT:-8089}"
log_dir="${STACK_DIR:-$root/.stack}/doctor"
mkdir -p "$log_dir"

cleanup() {
  local status=$?
  trap - EXIT
  trap '' PIPE
  set +e
  stop_sandbox >/dev/null
  stop_stack_if_started >/dev/null
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Set-up goes to stderr, so `DOCTOR_FLAGS=--json` leaves only doctor's JSON on stdout.
{
  local_stack_up
  if curl -fsS "http://127.0.0.1:$sandbox_port/_sandbox/health" >/dev/null 2>&1; then
    echo "doctor: using the Gong sandbox already on http://127.0.0.1:$sandbox_port"
  else
    start_sandbox "$sandbox_port" 3 "$log_dir/sandbox.log"
    echo "doctor: started a Gong sandbox on http://127.0.0.1:$sandbox_port (stopped afterwards)"
  fi
} >&2

export GONG_BASE_URL="http://127.0.0.1:$sandbox_port" GONG_ACCESS_KEY="$DEMO_ACCESS_KEY" \
  GONG_ACCESS_KEY_SECRET="$DEMO_ACCESS_KEY_SECRET" KAFKA_GROUP_ID="${KAFKA_GROUP_ID:-gong-bridge-demo}"
unset GONG_BEARER_TOKEN GONG_BEARER_TOKEN_FILE GONG_ACCESS_KEY_FILE GONG_ACCESS_KEY_SECRET_FILE

if [ -z "${KAFKA_TOPICS:-}" ]; then
  export KAFKA_TOPICS=demo.interactions
  if ! curl -fsS "$SCHEMA_REGISTRY_URL/subjects/$KAFKA_TOPICS-value/versions" >/dev/null 2>&1; then
    echo "doctor: writing one sample event to $KAFKA_TOPICS (creates the topic and registers its schema)" >&2
    node src/cli/main.ts produce-sample --count 1 --topic "$KAFKA_TOPICS" --create-topic >&2
  fi
fi

# shellcheck disable=SC2086
node src/cli/main.ts doctor --gong-auth ${DOCTOR_FLAGS:-}
