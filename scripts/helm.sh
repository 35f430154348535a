#!/usr/bin/env bash
# Helm for the gong-bridge chart, built from source with the Go module proxy (the only place these
# machines can fetch helm from) into .tools/bin on first use; later runs reuse it.
#
# Usage: scripts/helm.sh build   build .tools/bin/helm if missing, print its path
#        scripts/helm.sh built   exit 0 when .tools/bin/helm of HELM_VERSION is already built
#        scripts/helm.sh sync    copy deploy/prometheus/alerts.yaml and deploy/grafana/gong-bridge.json
#                                into the chart (Helm reads only files inside the chart) and
#                                regenerate values.schema.json's settings from src/config/settings.ts
#        scripts/helm.sh check   lint --strict, render with default, all-features and CI values,
#                                and require every test/helm/invalid/*.yaml to be refused
#        scripts/helm.sh helm ARGS...   run the built helm
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# The Kubernetes version helm assumes for `template`/`lint` (.Capabilities.KubeVersion). `go install`
# does not pass the release build's ldflags, so without these helm would claim v1.20 and refuse the
# chart's kubeVersion. 1.34 matches the k8s.io modules helm v3.19.5 is built with.
K8S_MAJOR=1
K8S_MINOR=34

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="$root/helm/gong-bridge"
bindir="$root/.tools/bin"
helm="$bindir/helm"

log() { printf 'helm.sh: %s\n' "$*" >&2; }
die() { printf 'helm.sh: error: %s\n' "$*" >&2; exit 1; }

build() {
  # scripts/go-tool.sh keeps one build per version in .tools/bin (a HELM_VERSION bump rebuilds).
  # helm v3.19.5's go.mod says go 1.24.0.
  local ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
  bash "$root/scripts/go-tool.sh" helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" 1.24 "$ldflags" >/dev/null
}

# Each pair: the single source under deploy/ and the chart's copy.
synced_files=(
  "deploy/prometheus/alerts.yaml:helm/gong-bridge/files/alerts.yaml"
  "deploy/grafana/gong-bridge.json:helm/gong-bridge/files/dashboards/gong-bridge.json"
)

node_bin() { echo "$("$root/scripts/ensure-node.sh")/node"; }

sync() {
  "$(node_bin)" "$root/scripts/helm-values-schema.ts"
  local pair
  for pair in "${synced_files[@]}"; do
    mkdir -p "$(dirname "$root/${pair#*:}")"
    cp "$root/${pair%%:*}" "$root/${pair#*:}"
    log "copied ${pair%%:*} -> ${pair#*:}"
  done
}

check_synced() {
  local pair failed=0
  for pair in "${synced_files[@]}"; do
    if ! cmp -s "$root/${pair%%:*}" "$root/${pair#*:}"; then
      log "${pair#*:} differs from ${pair%%:*}: run 'bash scripts/helm.sh sync' and commit the copy"
      failed=1
    fi
  done
  return $failed
}

check() {
  build
  local failed=0 out
  check_synced || failed=1
  "$(node_bin)" "$root/scripts/helm-values-schema.ts" --check || failed=1

  "$helm" lint --strict "$chart" || failed=1
  "$helm" lint --strict "$chart" -f "$chart/ci/all-features-values.yaml" || failed=1

  local values
  for values in "" "$chart"/ci/*-values.yaml; do
    if out="$("$helm" template gong-bridge "$chart" --namespace gong-bridge ${values:+-f "$values"} 2>&1 >/dev/null)"; then
      log "ok: rendered with ${values:-default values}"
    else
      log "FAILED: rendering with ${values:-default values}: $out"
      failed=1
    fi
  done

  # Each invalid file names the field it gets wrong in its first line: `# expect: <text>`. The
  # render must fail and the error must contain that text, so a refusal for some other reason
  # does not pass for the intended one.
  local file expect
  for file in "$root"/test/helm/invalid/*.yaml; do
    expect="$(sed -n '1s/^# expect: //p' "$file")"
    [ -n "$expect" ] || { log "FAILED: $file has no '# expect: ' first line"; failed=1; continue; }
    if out="$("$helm" template gong-bridge "$chart" -f "$file" 2>&1 >/dev/null)"; then
      log "FAILED: $(basename "$file") was accepted"
      failed=1
    elif [[ "$out" != *"$expect"* ]]; then
      log "FAILED: $(basename "$file") was refused without naming '$expect': $out"
      failed=1
    else
      log "ok: $(basename "$file") refused: $(printf '%s' "$out" | grep -F -- "$expect" | head -1 | sed 's/^[[:space:]]*//')"
    fi
  done
  [ $failed -eq 0 ] || die "chart checks failed"
  log "all chart checks passed"
}

case "${1:-}" in
  build) build; echo "$helm" ;;
  built) bash "$root/scripts/go-tool.sh" --cached helm "$HELM_VERSION" ;;
  sync) sync ;;
  check) check ;;
  helm) shift; build; exec "$helm" "$@" ;;
  *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
