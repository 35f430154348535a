#!/usr/bin/env bash
# The one prerequisite step of `make demo`, `make doctor`, `make test` and `.ci/run`: it checks every
# tool the target needs, installs what is missing when it can (Debian packages with apt-get when
# run as root; helm and Toxiproxy built with Go into .tools/bin; Node 24 into .tools/ by
# ensure-node.sh), and otherwise stops at once with the exact command to run.
#
# Usage: scripts/prereqs.sh demo|doctor|test|ci [--check]
#   demo, doctor  the local stack (Kafka, Apicurio Registry, Redis) and the Gong sandbox
#   test, ci      that, plus what the test tiers and chart checks run
#   --check       change nothing: say what is missing and what would be installed; exit 1 if anything is
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-}"
check_only=0
[ "${2:-}" = "--check" ] && check_only=1
case "$target" in
  demo | doctor) wants_test_tools=0 ;;
  test | ci) wants_test_tools=1 ;;
  *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac

say() { printf 'prereqs: %s\n' "$*" >&2; }
die() { printf 'prereqs: %s\n' "$*" >&2; exit 1; }

# What each target needs: command, the Debian package that provides it, who needs it and why.
# Kafka 4 needs Java 17 (checked below); redis-server's package may also start a system Redis on
# 6379, which the stack leaves alone (it uses its own port and pid).
stack_needs=(
  "java|openjdk-17-jdk-headless|Kafka and Apicurio Registry run on Java 17+"
  "mvn|maven|fetches Kafka and Apicurio Registry from Maven Central"
  "redis-server|redis-server|the local stack's Redis"
  "redis-cli|redis-tools|the stack's Redis readiness check"
  "curl|curl|readiness checks of the registry, Toxiproxy and the Gong sandbox"
  "npm|npm|npm ci, and fetching Node 24 when the system Node is older than 22"
)
test_needs=(
  "promtool|prometheus|alert rule tests (test/observability/promtool.test.ts)"
  "prometheus|prometheus|the Prometheus end-to-end test (test/observability/prometheus.e2e.test.ts)"
  "openssl|openssl|certificates for the TLS and SASL broker tests"
  "tmux|tmux|the demo's Ctrl-C test in a real terminal"
  "jq|jq|help examples that pipe into jq (test/cli/help-examples.int.test.ts)"
)
needs=("${stack_needs[@]}")
[ "$wants_test_tools" = 1 ] && needs+=("${test_needs[@]}")

have() { command -v "$1" >/dev/null 2>&1; }

java_major() {
  java -version 2>&1 | sed -nE '1s/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/p' |
    awk '{ print ($1 == 1) ? $2 : $1 }'
}

# Commands that are missing (or, for java, too old), one "command|package|why" line each.
missing() {
  local entry command
  for entry in "${needs[@]}"; do
    command="${entry%%|*}"
    if ! have "$command"; then
      echo "$entry"
    elif [ "$command" = java ] && [ "$(java_major)" -lt 17 ] 2>/dev/null; then
      echo "${entry%|*}|Java $(java_major) is on PATH, Kafka 4 needs 17+"
    fi
  done
}

packages_of() { cut -d'|' -f2 | sort -u | tr '\n' ' ' | sed 's/ $//'; }

report() {
  local line
  say "make $target needs what this machine lacks:"
  while IFS= read -r line; do
    IFS='|' read -r tool package why <<<"$line"
    printf '  %-13s %-26s %s\n' "$tool" "(Debian: $package)" "$why" >&2
  done <<<"$1"
}

apt_install() {
  local packages="$1"
  say "installing with apt-get: $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed (output above); fix the package sources, then rerun"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >&2 ||
    die "apt-get install failed (output above). The command was: apt-get install -y --no-install-recommends $packages"
}

lacking="$(missing)"
if [ -n "$lacking" ]; then
  report "$lacking"
  packages="$(packages_of <<<"$lacking")"
  command="apt-get install -y --no-install-recommends $packages"
  if [ "$check_only" = 1 ]; then
    die "would run: $command"
  elif ! have apt-get; then
    die "this is not a Debian-like system: install the commands above with your package manager, then rerun"
  elif [ "$(id -u)" != 0 ]; then
    die "run this, then rerun: $(have sudo && echo 'sudo ')$command"
  fi
  apt_install "$packages"
  still="$(missing)"
  if [ -n "$still" ]; then
    report "$still"
    die "still missing after apt-get install; is the package's directory on PATH ($PATH)?"
  fi
fi

# Node >= 22 (Node 24 from the npm registry into .tools/ when the system one is older).
node_dir="$("$root/scripts/ensure-node.sh")" || die "could not provide Node 22+ (output above)"

# Tools built from source with Go into .tools/bin: helm (chart checks) and Toxiproxy (network
# faults). Each build is a no-op once its version is there, so Go is needed only the first time.
if [ "$wants_test_tools" = 1 ]; then
  if [ "$check_only" = 1 ]; then
    bash "$root/scripts/helm.sh" built || say "would build helm with Go into .tools/bin (scripts/helm.sh build)"
    bash "$root/scripts/stack/stack.sh" toxiproxy-built ||
      say "would build Toxiproxy with Go into .tools/bin (scripts/stack/stack.sh toxiproxy-bin)"
  else
    bash "$root/scripts/helm.sh" build >/dev/null || die "helm could not be built (output above)"
    bash "$root/scripts/stack/stack.sh" toxiproxy-bin >/dev/null || die "Toxiproxy could not be built (output above)"
  fi
fi

say "make $target: everything it needs is here (java $(java_major), node $("$node_dir/node" --version)$([ "$wants_test_tools" = 1 ] && echo ', helm and Toxiproxy in .tools/bin'))"
