#!/usr/bin/env bash
# Fetches the CPU build of ONNX Runtime into a git-ignored cache, once.
# There is no Debian package and onnxruntime_go ships no amd64 library; the
# onnxruntime-node npm package carries the official shared library, so we
# take it from there with `npm pack` (no install scripts run).
# Prints the path of the library. Idempotent: does nothing when it is there.
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.24.3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ORT_CACHE:-$root/.cache/onnxruntime/$ORT_VERSION}"
lib="$cache/libonnxruntime.so"

if [ -n "${ORT_LIB:-}" ]; then
  if [ -f "$ORT_LIB" ]; then echo "$ORT_LIB"; exit 0; fi
  echo "setup-ort: ORT_LIB=$ORT_LIB does not exist; unset it or point it at libonnxruntime.so" >&2
  exit 1
fi
if [ -f "$lib" ]; then echo "$lib"; exit 0; fi

case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "setup-ort: no prebuilt ONNX Runtime for $(uname -m); build it and set ORT_LIB" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "setup-ort: npm not found; install Node.js+npm (apt-get install npm) or set ORT_LIB=/path/libonnxruntime.so" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>"$tmp/npm.err"); then
  echo "setup-ort: 'npm pack onnxruntime-node@$ORT_VERSION' failed ($(tail -n1 "$tmp/npm.err")); check npm registry access or set ORT_LIB=/path/libonnxruntime.so" >&2
  exit 1
fi
member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
if ! tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" "$member" 2>/dev/null; then
  echo "setup-ort: $member not found in onnxruntime-node@$ORT_VERSION; set ORT_LIB=/path/libonnxruntime.so" >&2
  exit 1
fi
mkdir -p "$cache"
mv "$tmp/$member" "$lib.partial" && mv "$lib.partial" "$lib"
echo "$lib"
