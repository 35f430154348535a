#!/usr/bin/env bash
# `make test`, after scripts/prereqs.sh test: lint, typecheck, every test tier and the chart checks,
# against a local stack that it starts if needed and stops afterwards only if it started it.
# Explicit KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL skip the local stack (the test harness
# uses them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started_stack=0
reports="$root/.stack/reports"
rm -rf "$reports" && mkdir -p "$reports"
finish() {
  local status=$?
  if [ "$started_stack" = 1 ]; then bash scripts/stack/stack.sh down || true; fi
  echo
  echo "make test: ${SECONDS}s"
  # The closing lines: the counts, then every skipped test with its reason. Under CI=true a skip
  # fails the run even when every tier passed.
  node scripts/test-summary.ts "$reports" || { [ "$status" != 0 ] || status=1; }
  exit $status
}
trap finish EXIT

# Each tier writes a JSON report beside the usual console output, for the closing count.
tier() {
  local name="$1"; shift
  npx vitest run --project "$name" --reporter=default --reporter=json --outputFile.json="$reports/$name.json" "$@"
}

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

step "lint"
npm run lint
step "typecheck"
npm run typecheck
step "unit tests"
tier unit

# scripts/prereqs.sh (run by `make test` first) made sure Java, Maven and redis-server are here.
if [ -z "${KAFKA_BROKERS:-}" ]; then
  if ! bash scripts/stack/stack.sh status >/dev/null 2>&1; then
    step "starting the local stack"
    started_stack=1
    bash scripts/stack/stack.sh up
  fi
fi

step "integration tests"
tier integration
step "end-to-end tests"
tier e2e --passWithNoTests
step "helm chart checks"
bash scripts/helm.sh check
