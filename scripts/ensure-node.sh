#!/usr/bin/env bash
# Prints the directory of a Node.js >= 22 binary, bootstrapping Node 24 LTS from the npm registry
# (the node-<os>-<arch> package) into .tools/ when the system Node is missing or too old.
# The npm registry is the only download source these machines reach, so no nodejs.org tarballs.
set -euo pipefail
NODE_VERSION="${GONG_BRIDGE_NODE_VERSION:-24.21.0}"
MIN_MAJOR=22
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge "$MIN_MAJOR" ] && [ -z "${GONG_BRIDGE_FORCE_NODE_BOOTSTRAP:-}" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "ensure-node: unsupported OS $(uname -s); install Node >= $MIN_MAJOR yourself" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "ensure-node: unsupported CPU $(uname -m); install Node >= $MIN_MAJOR yourself" >&2; exit 1 ;;
esac

dest="$tools/node-v$NODE_VERSION-$os-$arch"
if [ ! -x "$dest/bin/node" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "ensure-node: need npm (any version) to fetch node-$os-$arch@$NODE_VERSION from the npm registry" >&2
    exit 1
  fi
  echo "ensure-node: fetching node-$os-$arch@$NODE_VERSION from the npm registry" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$NODE_VERSION" >/dev/null 2>&1)
  mkdir -p "$dest"
  tar xzf "$tmp"/node-*.tgz -C "$dest" --strip-components=1
  "$dest/bin/node" --version >/dev/null
fi
echo "$dest/bin"
