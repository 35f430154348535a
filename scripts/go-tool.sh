#!/usr/bin/env bash
# Tools we build from source with `go install` through the Go module proxy (the only place these
# machines can fetch them from): helm for the chart checks, Toxiproxy for the network-fault tests.
# Each is built once per version into .tools/bin, with a stamp file recording the version, so a
# version bump rebuilds and every later run reuses the binary; the Go module and build caches make
# a rebuild quick.
#
# Usage: scripts/go-tool.sh NAME PACKAGE VERSION GO_MIN [LDFLAGS]
#          prints the path of .tools/bin/NAME, building it first when it is missing or another version
#        scripts/go-tool.sh --cached NAME VERSION
#          exit 0 when .tools/bin/NAME of VERSION is already built (nothing needs Go then)
# PACKAGE is the Go package path of the command; GO_MIN the oldest Go that builds that version.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="${GO_TOOL_BIN_DIR:-$root/.tools/bin}"

log() { printf 'go-tool: %s\n' "$*" >&2; }
die() { printf 'go-tool: error: %s\n' "$*" >&2; exit 1; }

cached() { [ -x "$bindir/$1" ] && [ "$(cat "$bindir/$1.version" 2>/dev/null)" = "$2" ]; }

# "go1.24.3" -> 1024; "go1.26rc1" -> 1026: major*1000 + minor, enough to compare releases.
go_release() { go env GOVERSION 2>/dev/null | sed -nE 's/^go([0-9]+)\.([0-9]+).*/\1 \2/p' | awk '{ print $1 * 1000 + $2 }'; }

require_go() {
  local name="$1" version="$2" minimum="$3" have wanted
  command -v go >/dev/null 2>&1 ||
    die "Go $minimum or newer is needed to build $name $version, and there is no go on PATH. $(go_advice "$minimum")"
  have="$(go_release)"
  wanted="$(echo "$minimum" | awk -F. '{ print $1 * 1000 + $2 }')"
  [ -n "$have" ] && [ "$have" -ge "$wanted" ] ||
    die "$name $version needs Go $minimum or newer to build; $(go env GOVERSION 2>/dev/null || echo 'an unknown version') is on PATH. $(go_advice "$minimum")"
}

# Debian 12's golang-go is Go 1.19, too old for helm, so apt-get alone cannot provide it.
go_advice() { echo "Install Go $1+ from https://go.dev/dl/ (or your distribution's backports) and put its bin/ on PATH."; }

build() {
  local name="$1" package="$2" version="$3" minimum="$4" ldflags="${5:-}"
  if cached "$name" "$version"; then
    echo "$bindir/$name"
    return
  fi
  require_go "$name" "$version" "$minimum"
  log "building $name $version with go install (a minute or more the first time; modules stay in the Go cache)"
  local started=$SECONDS gobin
  mkdir -p "$bindir"
  gobin="$(mktemp -d)"
  if ! GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w $ldflags" "$package@$version" >&2; then
    rm -rf "$gobin"
    die "go install $package@$version failed (output above)"
  fi
  mv "$gobin/$(basename "$package")" "$bindir/$name"
  rm -rf "$gobin"
  echo "$version" >"$bindir/$name.version"
  log "built $name $version in $((SECONDS - started)) s"
  echo "$bindir/$name"
}

case "${1:-}" in
  --cached) [ $# -eq 3 ] || die "usage: go-tool.sh --cached NAME VERSION"; cached "$2" "$3" ;;
  -*|'') awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
  *) [ $# -ge 4 ] || die "usage: go-tool.sh NAME PACKAGE VERSION GO_MIN [LDFLAGS]"; build "$@" ;;
esac
