#!/usr/bin/env bash
# Regenerates docs/ (the static half of the API docs) from the swag
# annotations in handlers/. With --check, regenerates into a scratch folder
# and fails when docs/ differs: `make test` runs that, so stale docs fail CI.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs
if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  out="$tmp/docs"
fi
go tool swag init -q -g router.go -d handlers -o "$out" --ot go,json,yaml --parseInternal >/dev/null
if [ "$out" != docs ]; then
  # Only swag's own files: docs/ also holds hand-written pages and images.
  for f in docs.go swagger.json swagger.yaml; do
    if ! diff -u "docs/$f" "$out/$f" >"$tmp/diff"; then
      head -n 40 "$tmp/diff" >&2
      echo "docs/$f is stale: run scripts/swag.sh and commit the result" >&2
      exit 1
    fi
  done
fi
