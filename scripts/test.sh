#!/usr/bin/env bash
# `make test`: lint, typecheck, every test tier and the chart checks, against a local stack that
# it starts if needed and stops afterwards only if it started it. Explicit KAFKA_BROKERS,
# SCHEMA_REGISTRY_URL and REDIS_URL skip the local stack (the test harness uses them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started_stack=0
stop_stack() {
  if [ "$started_stack" = 1 ]; then bash scripts/stack/stack.sh down || true; fi
}
trap stop_stack EXIT

step() { printf '\n== %s\n' "$*"; }

step "lint"
npm run lint
step "typecheck"
npm run typecheck
step "helm (built from the Go module proxy on first use; the chart tests need it)"
bash scripts/helm.sh build >/dev/null
step "unit tests"
npx vitest run --project unit

if [ -z "${KAFKA_BROKERS:-}" ] && command -v java >/dev/null && command -v redis-server >/dev/null; then
  if ! bash scripts/stack/stack.sh status >/dev/null 2>&1; then
    step "starting the local stack"
    started_stack=1
    bash scripts/stack/stack.sh up
  fi
fi

step "integration tests"
npx vitest run --project integration
step "end-to-end tests"
npx vitest run --project e2e --passWithNoTests
step "helm chart checks"
bash scripts/helm.sh check
