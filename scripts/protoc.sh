#!/usr/bin/env bash
# Regenerates the gRPC front end's Go code (handlers/grpc/inferencepb/*.pb.go)
# from its .proto with Debian's protoc and the protoc-gen-go and
# protoc-gen-go-grpc pinned as tools in go.mod. With --check, generates into
# a scratch folder and fails when the committed code differs: `make test`
# runs that, so a .proto edited without regenerating fails CI. Installs
# Debian's protobuf-compiler when protoc is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
pkg=handlers/grpc/inferencepb
proto=grpc_predict_v2.proto

if ! command -v protoc >/dev/null; then
  echo "protoc.sh: installing Debian's protobuf-compiler" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler >/dev/null; } \
    || { echo "protoc.sh: could not install protoc: run 'apt-get install -y protobuf-compiler' as root" >&2; exit 1; }
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The plugins are built from go.mod's pins, so every machine generates the
# same code.
"$GO" build -o "$tmp/bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
"$GO" build -o "$tmp/bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
out="$tmp/out"
mkdir -p "$out"
PATH="$tmp/bin:$PATH" protoc -I "$pkg" \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  "$pkg/$proto"

if [ "${1:-}" = "--check" ]; then
  for f in "$out"/*.go; do
    name="$(basename "$f")"
    if ! diff -u "$pkg/$name" "$f" >"$tmp/diff"; then
      head -n 40 "$tmp/diff" >&2
      echo "$pkg/$name is stale: run scripts/protoc.sh and commit the result" >&2
      exit 1
    fi
  done
  exit 0
fi
cp "$out"/*.go "$pkg/"
