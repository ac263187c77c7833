#!/usr/bin/env bash
# Every fuzz target of every package in turn (go test fuzzes one at a
# time), found with go test -list, so that a new or moved target is fuzzed
# too; FUZZTIME (30s) each.
#
# A run that fails with a bare "context deadline exceeded" and writes no
# failing input is Go's own fuzz coordinator racing its -fuzztime deadline
# on a loaded machine (golang/go#75804, fixed in Go 1.27; CI saw it on
# FuzzDecodeRaw, whose code had not changed): that target is fuzzed once
# more, and a second failure of any kind fails. Any other failure, a
# failing input written to testdata/fuzz first of all, fails at once.
# Drop the retry once go.mod's Go is 1.27 or later.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-30s}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# Assigned, so that a package list or a test build that fails stops the
# run (set -e) rather than leaving its targets out.
pkgs="$("$GO" list ./...)"
for pkg in $pkgs; do
  list="$("$GO" test -list '^Fuzz' "$pkg")"
  for f in $(grep '^Fuzz' <<<"$list" || true); do
    for attempt in 1 2; do
      if "$GO" test "$pkg" -run XXX -fuzz "^$f\$" -fuzztime "$FUZZTIME" 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        break
      fi
      if [ "$attempt" = 1 ] && grep -qE '^[[:space:]]+context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
        echo "fuzz: $f: the fuzz coordinator's deadline race (golang/go#75804), no failing input: once more" >&2
        continue
      fi
      exit 1
    done
  done
done
